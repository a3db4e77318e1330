// Package views holds the templ components of the admin dashboard, one
// package per job:
//
//   - layout: the page shell (head, navigation, flash message);
//   - components: shared view types (form errors, list state, options) and
//     components (fields, sortable headers, pagination, badges);
//   - pages: sign-in and error pages;
//   - overview, users, packages, contents, userpackages, sessions: the
//     pages of each entity.
//
// The generated *_templ.go files sit next to their .templ files and are
// committed; regenerate them with `go tool templ generate -path ./views`.
// Components only show what the handlers in internal/dashboard give them:
// they never query the database.
package views
