package dashboard

import (
	"net/http"
	"strings"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/pages"
	"gatehouse/views/users"
)

var userListSpec = listSpec{
	path:  users.Path,
	sorts: []string{"username", "role", "disabled", "lastLogin", "created"},
	sort:  "username",
	dir:   "asc",
	filters: map[string]func(string) bool{
		"role":     oneOf(string(user.RoleADMIN), string(user.RoleUSER)),
		"disabled": oneOf("true", "false"),
	},
}

var userFields = []string{"username", "password", "role", "disabled"}

// userSessionsShown is how many sessions a user's page lists.
const userSessionsShown = 20

func orderTerm(l components.List) sql.OrderTermOption {
	if l.Dir == "desc" {
		return sql.OrderDesc()
	}
	return sql.OrderAsc()
}

func (d *Dashboard) userList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, userListSpec)
	q := d.client.User.Query()
	if l.Q != "" {
		q.Where(user.UsernameFoldContains(strings.ToLower(l.Q)))
	}
	if v := l.Filter("role"); v != "" {
		q.Where(user.RoleEQ(user.Role(v)))
	}
	if v := l.Filter("disabled"); v != "" {
		q.Where(user.Disabled(v == "true"))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order user.OrderOption
	switch l.Sort {
	case "role":
		order = user.ByRole(o)
	case "disabled":
		order = user.ByDisabled(o)
	case "lastLogin":
		order = user.ByLastLoginAt(o, sql.OrderNullsLast())
	case "created":
		order = user.ByCreatedAt(o)
	default:
		order = user.ByUsernameFold(o)
	}
	rows, err := q.Order(order, user.ByID(o)).Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, users.List(d.page(r, "Users", "users"), users.ListData{List: l, Rows: rows, Now: d.svc.Now()}))
}

// loadUser reads the user of the URL's {id}; false means 404 was answered.
func (d *Dashboard) loadUser(w http.ResponseWriter, r *http.Request) (*ent.User, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	u, err := d.client.User.Get(r.Context(), id)
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return u, true
}

func (d *Dashboard) userDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := d.loadUser(w, r)
	if !ok {
		return
	}
	ups, err := u.QueryPackages().WithPackage().Order(userpackage.ByExpiresAt(sql.OrderDesc()), userpackage.ByID()).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	sq := u.QuerySessions()
	nsess, err := sq.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	sess, err := sq.Order(usersession.ByCreatedAt(sql.OrderDesc()), usersession.ByID(sql.OrderDesc())).Limit(userSessionsShown).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	feats, err := d.svc.ActiveFeatures(ctx, u.ID)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	now := d.svc.Now()
	d.render(w, r, http.StatusOK, users.Detail(d.page(r, u.Username, "users"), users.DetailData{
		User: u, Assignments: ups, Sessions: sess, MoreSess: nsess - len(sess), Features: feats,
		Now: now, Return: returnOf(r), Here: here(r), Self: currentAdmin(ctx).ID == u.ID,
	}))
}

func (d *Dashboard) userNew(w http.ResponseWriter, r *http.Request) {
	f := users.Form{Role: string(user.RoleUSER), Errors: components.Errors{}, Return: returnOf(r)}
	d.render(w, r, http.StatusOK, users.FormPage(d.page(r, "New user", "users"), f))
}

// readUserForm decodes the user form and checks username and password with
// the same functions CreateUser and UpdateUser apply, so that every field's
// error shows at once.
func readUserForm(r *http.Request, passwordRequired bool) (users.Form, string) {
	fr := newFormReader(r)
	f := users.Form{
		Username: fr.str("username"),
		Role:     fr.str("role"),
		Disabled: fr.boolean("disabled"),
		Errors:   fr.errs,
		Return:   returnOf(r),
	}
	pw := fr.str("password")
	if _, err := service.CheckUsername(f.Username); err != nil {
		addError(f.Errors, err)
	}
	if pw != "" || passwordRequired {
		if err := auth.CheckPassword("password", pw); err != nil {
			addError(f.Errors, err)
		}
	}
	return f, pw
}

func (d *Dashboard) userCreate(w http.ResponseWriter, r *http.Request) {
	if !d.parseForm(w, r) {
		return
	}
	f, pw := readUserForm(r, true)
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		in := service.CreateUserInput{Username: f.Username, Password: pw, Disabled: &f.Disabled}
		if f.Role != "" {
			role := user.Role(f.Role)
			in.Role = &role
		}
		u, err := d.svc.CreateUser(r.Context(), in)
		if err == nil {
			d.redirect(w, r, components.WithReturn(users.Href(u.ID), f.Return), "User "+u.Username+" created.")
			return
		}
		var ok bool
		if status, ok = formErrors(r, err, f.Errors, userFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, users.FormPage(d.page(r, "New user", "users"), f))
}

func (d *Dashboard) userEdit(w http.ResponseWriter, r *http.Request) {
	u, ok := d.loadUser(w, r)
	if !ok {
		return
	}
	f := users.Form{
		ID: u.ID, Current: u.Username, Username: u.Username, Role: string(u.Role), Disabled: u.Disabled,
		Errors: components.Errors{}, Return: returnOf(r),
	}
	d.render(w, r, http.StatusOK, users.FormPage(d.page(r, "Edit user "+u.Username, "users"), f))
}

func (d *Dashboard) userUpdate(w http.ResponseWriter, r *http.Request) {
	u, ok := d.loadUser(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	f, pw := readUserForm(r, false)
	f.ID, f.Current = u.ID, u.Username
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		in := service.UpdateUserInput{Username: &f.Username, Disabled: &f.Disabled}
		if f.Role != "" {
			role := user.Role(f.Role)
			in.Role = &role
		}
		if pw != "" {
			in.Password = &pw
		}
		saved, err := d.svc.UpdateUser(r.Context(), u.ID, in)
		if err == nil && pw != "" {
			err = d.keepSignedIn(r.Context(), u.ID)
		}
		if err == nil {
			d.redirect(w, r, Or(f.Return, users.Href(u.ID)), "User "+saved.Username+" saved.")
			return
		}
		if status, ok = formErrors(r, err, f.Errors, userFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, users.FormPage(d.page(r, "Edit user "+u.Username, "users"), f))
}

func (d *Dashboard) userDeleteData(r *http.Request, u *ent.User) (users.DeleteData, error) {
	ctx := r.Context()
	dd := users.DeleteData{User: u, Return: returnOf(r), Self: currentAdmin(ctx).ID == u.ID}
	var err error
	if dd.Assignments, err = u.QueryPackages().Count(ctx); err != nil {
		return dd, err
	}
	if dd.Sessions, err = u.QuerySessions().Count(ctx); err != nil {
		return dd, err
	}
	dd.Packages, err = u.QueryPackages().WithPackage().Order(userpackage.ByID()).Limit(20).All(ctx)
	return dd, err
}

func (d *Dashboard) userDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := d.loadUser(w, r)
	if !ok {
		return
	}
	dd, err := d.userDeleteData(r, u)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, users.Delete(d.page(r, "Delete user "+u.Username, "users"), dd))
}

func (d *Dashboard) userDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, ok := d.loadUser(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeleteUser(ctx, u.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		dd, derr := d.userDeleteData(r, u)
		if derr != nil {
			d.failure(w, r, derr)
			return
		}
		dd.Error = e.Message
		d.render(w, r, statusOf(e), users.Delete(d.page(r, "Delete user "+u.Username, "users"), dd))
		return
	}
	if currentAdmin(ctx).ID == u.ID {
		if err := d.signOut(ctx); err != nil {
			d.serverError(w, r, err)
			return
		}
		d.redirect(w, r, "/admin/login", "Your account "+u.Username+" was deleted.")
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), users.Href(u.ID), users.Path), "User "+u.Username+" deleted.")
}

// userRevokeSessionsConfirm asks before every session of a user stops
// working.
func (d *Dashboard) userRevokeSessionsConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := d.loadUser(w, r)
	if !ok {
		return
	}
	n, err := d.client.UserSession.Query().Where(usersession.UserID(u.ID), access.SessionActiveAt(d.svc.Now())).Count(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	back := Or(returnOf(r), users.Href(u.ID))
	d.render(w, r, http.StatusOK, pages.ConfirmPage(d.page(r, "Revoke all sessions of "+u.Username, "users"), pages.Confirm{
		Title:  "Revoke all sessions of " + u.Username + "?",
		Text:   components.Plural(n, "active session", "active sessions") + " of " + u.Username + " will stop working at once, in every app and on every device; the records stay. " + u.Username + " signs in again to get a new one.",
		Action: users.Href(u.ID) + "/revoke-sessions", Button: "Revoke all sessions",
		Back: back, BackLabel: u.Username, Return: returnOf(r),
	}))
}

func (d *Dashboard) userRevokeSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := d.loadUser(w, r)
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
	d.redirect(w, r, Or(returnOf(r), users.Href(u.ID)),
		"Revoked "+components.Plural(n, "active session", "active sessions")+" of "+u.Username+".")
}

// afterDelete is where to go once the record at self is gone: ret, unless
// ret is one of the record's own pages; else the list.
func afterDelete(ret, self, list string) string {
	if ret == "" || ret == self || strings.HasPrefix(ret, self+"/") || strings.HasPrefix(ret, self+"?") {
		return list
	}
	return ret
}

// addError records a client-safe error of a check beside its field.
func addError(errs components.Errors, err error) {
	if e, ok := apperr.As(err); ok {
		errs.Add(e.Field, e.Message)
		return
	}
	errs.Add("", "the value could not be checked")
}
