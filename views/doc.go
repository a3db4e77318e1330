// Package views holds the templ components of the admin dashboard.
package views
