package dashboard

import (
	"context"
	"net/http"
	"strings"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/pages"
	"gatehouse/views/users"
)

// userSessionsShown is how many sessions a user's page lists.
const userSessionsShown = 20

func (d *Dashboard) userResource() *resource[*ent.User, users.Form] {
	rs := &resource[*ent.User, users.Form]{
		d: d, name: "user", plural: "users", title: "Users",
		path: users.Path, section: "users", subject: events.SubjectUser,
		table: entTable[*ent.User, *ent.UserQuery, predicate.User, user.OrderOption](d.client.User.Query),
		get:   d.client.User.Get,
		id:    func(u *ent.User) int { return u.ID },
		label: func(u *ent.User) string { return u.Username },

		searchLabel: "Username",
		search: func(q string) func(*sql.Selector) {
			return user.UsernameFoldContains(strings.ToLower(q))
		},
		filters: []filter{
			{name: "role", title: "Role", ok: oneOf(string(user.RoleADMIN), string(user.RoleUSER)),
				where:   func(v string) func(*sql.Selector) { return user.RoleEQ(user.Role(v)) },
				options: staticOptions(users.RoleFilter)},
			{name: "disabled", title: "State", ok: oneOf("true", "false"),
				where:   func(v string) func(*sql.Selector) { return user.Disabled(v == "true") },
				options: staticOptions(users.StateFilter)},
		},
		sorts: []sortCol[*ent.User]{
			{key: "username", title: "Username", column: user.FieldUsernameFold, value: func(u *ent.User) any { return u.UsernameFold }},
			{key: "role", title: "Role", column: user.FieldRole, value: func(u *ent.User) any { return string(u.Role) }},
			{key: "disabled", title: "State", column: user.FieldDisabled, kind: kindBool, value: func(u *ent.User) any { return u.Disabled }},
			{key: "lastLogin", title: "Last sign-in", column: user.FieldLastLoginAt, kind: kindTime, nullable: true, value: func(u *ent.User) any {
				if u.LastLoginAt == nil {
					return nil
				}
				return u.LastLoginAt.UTC()
			}},
			{key: "created", title: "Created", column: user.FieldCreatedAt, kind: kindTime, value: func(u *ent.User) any { return u.CreatedAt.UTC() }},
		},
		sort: "username",
		columns: []column[*ent.User]{
			{title: "Username", sort: "username",
				cell: func(u *ent.User, _ int) templ.Component { return components.Text(u.Username) },
				csv:  func(u *ent.User, _ int) string { return u.Username }},
			{title: "Role", sort: "role",
				cell: func(u *ent.User, _ int) templ.Component { return components.RoleBadge(u) },
				csv:  func(u *ent.User, _ int) string { return string(u.Role) }},
			{title: "State", sort: "disabled",
				cell: func(u *ent.User, _ int) templ.Component { return components.UserStateBadge(u) },
				csv: func(u *ent.User, _ int) string {
					if u.Disabled {
						return "disabled"
					}
					return "enabled"
				}},
			{title: "Last sign-in", sort: "lastLogin",
				cell: func(u *ent.User, _ int) templ.Component { return components.WhenPtr(u.LastLoginAt) },
				csv:  func(u *ent.User, _ int) string { return csvTimePtr(u.LastLoginAt) }},
			{title: "Created", sort: "created",
				cell: func(u *ent.User, _ int) templ.Component { return components.When(u.CreatedAt) },
				csv:  func(u *ent.User, _ int) string { return csvTime(u.CreatedAt) }},
		},
		newLabel: "New user",
		detail:   d.userDetail,
		remove: func(ctx context.Context, u *ent.User) error {
			_, err := d.svc.DeleteUser(ctx, u.ID)
			return err
		},
		removeInfo: d.userDeleteInfo,
		removed:    d.userRemoved,
	}
	rs.bulk = []bulkAction[*ent.User]{
		{key: "disable", label: "Disable", done: "disabled", apply: d.userSetDisabled(true),
			effect: fixedEffect("Disabled users cannot sign in, and every session they have ends at once.")},
		{key: "enable", label: "Enable", done: "enabled", apply: d.userSetDisabled(false)},
		{key: "revoke-sessions", label: "Revoke all sessions", done: "revoked the sessions of", danger: true,
			apply: func(ctx context.Context, u *ent.User, _ int) (bool, error) {
				if err := notSelf(ctx, u.ID); err != nil {
					return false, err
				}
				n, err := d.svc.RevokeAllSessions(ctx, u.ID)
				return n > 0, err
			},
			effect: d.userSessionEffect},
		{key: "delete", label: "Delete", done: "deleted", danger: true,
			apply: func(ctx context.Context, u *ent.User, _ int) (bool, error) {
				if err := notSelf(ctx, u.ID); err != nil {
					return false, err
				}
				_, err := d.svc.DeleteUser(ctx, u.ID)
				return true, err
			},
			effect: d.userDeleteEffect},
	}
	f := &rs.form
	f.fields = []string{"username", "password", "role", "disabled"}
	f.blank = func(r *http.Request) (users.Form, error) {
		return users.Form{Role: string(user.RoleUSER), Errors: components.Errors{}, Return: returnOf(r)}, nil
	}
	f.edit = func(r *http.Request, u *ent.User) (users.Form, error) {
		return users.Form{
			ID: u.ID, Current: u.Username, Username: u.Username, Role: string(u.Role), Disabled: u.Disabled,
			Errors: components.Errors{}, Return: returnOf(r),
		}, nil
	}
	f.read = func(r *http.Request, old **ent.User) (users.Form, components.Errors, error) {
		uf := readUserForm(r, old == nil)
		if old != nil {
			uf.ID, uf.Current = (*old).ID, (*old).Username
		}
		return uf, uf.Errors, nil
	}
	f.create = func(ctx context.Context, uf users.Form) (*ent.User, error) {
		in := service.CreateUserInput{Username: uf.Username, Password: uf.Password, Disabled: &uf.Disabled}
		if uf.Role != "" {
			role := user.Role(uf.Role)
			in.Role = &role
		}
		return d.svc.CreateUser(ctx, in)
	}
	f.update = func(ctx context.Context, u *ent.User, uf users.Form) (*ent.User, error) {
		in := service.UpdateUserInput{Username: &uf.Username, Disabled: &uf.Disabled}
		if uf.Role != "" {
			role := user.Role(uf.Role)
			in.Role = &role
		}
		if uf.Password != "" {
			in.Password = &uf.Password
		}
		saved, err := d.svc.UpdateUser(ctx, u.ID, in)
		if err == nil && uf.Password != "" {
			err = d.keepSignedIn(ctx, u.ID)
		}
		return saved, err
	}
	f.view = users.FormPage
	return rs
}

// notSelf refuses a bulk action on the signed-in admin's own account:
// that is done, knowingly, from the account's own page.
func notSelf(ctx context.Context, id int) error {
	if a := currentAdmin(ctx); a != nil && a.ID == id {
		return apperr.Invalid("", "your own account is not changed by bulk actions; use its own page")
	}
	return nil
}

func (d *Dashboard) userSetDisabled(disabled bool) func(context.Context, *ent.User, int) (bool, error) {
	return func(ctx context.Context, u *ent.User, _ int) (bool, error) {
		if disabled {
			if err := notSelf(ctx, u.ID); err != nil {
				return false, err
			}
		}
		if u.Disabled == disabled {
			return false, nil
		}
		_, err := d.svc.UpdateUser(ctx, u.ID, service.UpdateUserInput{Disabled: &disabled})
		return true, err
	}
}

func (d *Dashboard) userSessionEffect(ctx context.Context, ids []int) ([]string, error) {
	n, err := d.client.UserSession.Query().Where(usersession.UserIDIn(ids...), access.SessionActiveAt(d.svc.Now())).Count(ctx)
	if err != nil {
		return nil, err
	}
	return []string{components.Plural(n, "active session stops", "active sessions stop") + " working at once, in every app; the records stay."}, nil
}

func (d *Dashboard) userDeleteEffect(ctx context.Context, ids []int) ([]string, error) {
	na, err := d.client.UserPackage.Query().Where(userpackage.UserIDIn(ids...)).Count(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := d.client.UserSession.Query().Where(usersession.UserIDIn(ids...)).Count(ctx)
	if err != nil {
		return nil, err
	}
	return []string{
		"With them go " + components.Plural(na, "user package", "user packages") + " and " +
			components.Plural(ns, "session", "sessions") + " (their tokens stop working).",
		"This cannot be undone.",
	}, nil
}

func (d *Dashboard) userDetail(r *http.Request, p layout.Page, u *ent.User) (templ.Component, error) {
	ctx := r.Context()
	ups, err := u.QueryPackages().WithPackage().Order(userpackage.ByExpiresAt(sql.OrderDesc()), userpackage.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	sq := u.QuerySessions()
	nsess, err := sq.Clone().Count(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := sq.Order(usersession.ByCreatedAt(sql.OrderDesc()), usersession.ByID(sql.OrderDesc())).Limit(userSessionsShown).All(ctx)
	if err != nil {
		return nil, err
	}
	feats, err := d.svc.ActiveFeatures(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return users.Detail(p, users.DetailData{
		User: u, UserPackages: ups, Sessions: sess, MoreSess: nsess - len(sess), Features: feats,
		Now: d.svc.Now(), Return: returnOf(r), Here: here(r), Self: currentAdmin(ctx).ID == u.ID,
	}), nil
}

// readUserForm decodes the user form and checks username and password with
// the same functions CreateUser and UpdateUser apply, so that every field's
// error shows at once.
func readUserForm(r *http.Request, passwordRequired bool) users.Form {
	fr := newFormReader(r)
	f := users.Form{
		Username: fr.str("username"),
		Password: fr.str("password"),
		Role:     fr.str("role"),
		Disabled: fr.boolean("disabled"),
		Errors:   fr.errs,
		Return:   returnOf(r),
	}
	if _, err := service.CheckUsername(f.Username); err != nil {
		addError(f.Errors, err)
	}
	if f.Password != "" || passwordRequired {
		if err := auth.CheckPassword("password", f.Password); err != nil {
			addError(f.Errors, err)
		}
	}
	return f
}

func (d *Dashboard) userDeleteInfo(ctx context.Context, u *ent.User) (deleteInfo, error) {
	var info deleteInfo
	na, err := u.QueryPackages().Count(ctx)
	if err != nil {
		return info, err
	}
	ns, err := u.QuerySessions().Count(ctx)
	if err != nil {
		return info, err
	}
	ups, err := u.QueryPackages().WithPackage().Order(userpackage.ByID()).Limit(20).All(ctx)
	if err != nil {
		return info, err
	}
	names := make([]string, 0, len(ups))
	for _, up := range ups {
		if up.Edges.Package != nil {
			names = append(names, up.Edges.Package.Name)
		}
	}
	assigned := components.Plural(na, "user package", "user packages")
	if len(names) > 0 {
		assigned += ": " + strings.Join(names, ", ")
		if na > len(names) {
			assigned += ", …"
		}
	}
	info.Effects = []string{
		assigned,
		components.Plural(ns, "session", "sessions") + " (their tokens stop working)",
	}
	info.Self = currentAdmin(ctx).ID == u.ID
	return info, nil
}

// userRemoved signs the admin out after deleting their own account.
func (d *Dashboard) userRemoved(w http.ResponseWriter, r *http.Request, u *ent.User) bool {
	ctx := r.Context()
	if currentAdmin(ctx).ID != u.ID {
		return false
	}
	if err := d.signOut(ctx); err != nil {
		d.serverError(w, r, err)
		return true
	}
	d.redirect(w, r, "/admin/login", "Your account "+u.Username+" was deleted.")
	return true
}

// userRevokeSessionsConfirm asks before every session of a user stops
// working.
func (d *Dashboard) userRevokeSessionsConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := d.users.load(w, r)
	if !ok {
		return
	}
	n, err := d.client.UserSession.Query().Where(usersession.UserID(u.ID), access.SessionActiveAt(d.svc.Now())).Count(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	back := components.Or(returnOf(r), users.Href(u.ID))
	d.render(w, r, http.StatusOK, pages.ConfirmPage(d.page(r, "Revoke all sessions of "+u.Username, "users"), pages.Confirm{
		Title:  "Revoke all sessions of " + u.Username + "?",
		Text:   components.Plural(n, "active session", "active sessions") + " of " + u.Username + " will stop working at once, in every app and on every device; the records stay. " + u.Username + " signs in again to get a new one.",
		Action: users.Href(u.ID) + "/revoke-sessions", Button: "Revoke all sessions",
		Back: back, BackLabel: u.Username, Return: returnOf(r),
	}))
}

func (d *Dashboard) userRevokeSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := d.users.load(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	n, err := d.svc.RevokeAllSessions(r.Context(), u.ID)
	if err == nil {
		err = d.keepSignedIn(r.Context(), u.ID)
	}
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.redirect(w, r, components.Or(returnOf(r), users.Href(u.ID)),
		"Revoked "+components.Plural(n, "active session", "active sessions")+" of "+u.Username+".")
}
