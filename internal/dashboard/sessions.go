package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/pages"
	"gatehouse/views/sessions"
)

var sessionListSpec = listSpec{
	path:  sessions.Path,
	sorts: []string{"user", "created", "lastSeen", "expiresAt"},
	sort:  "created",
	dir:   "desc",
	filters: map[string]func(string) bool{
		"status": oneOf("active", "revoked", "expired"),
		"userID": isID,
	},
}

var sessionFields = []string{"userID", "expiresAt", "label"}

func (d *Dashboard) sessionList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, sessionListSpec)
	userPick, err := d.filterPicker(ctx, r, &l, pickUsers, "userID", "User")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	now := d.svc.Now()
	q := d.client.UserSession.Query()
	if l.Q != "" {
		q.Where(usersession.Or(
			usersession.HasUserWith(user.UsernameFoldContains(strings.ToLower(l.Q))),
			usersession.IPContains(l.Q),
			usersession.UserAgentContainsFold(l.Q),
		))
	}
	switch l.Filter("status") {
	case "active":
		q.Where(access.SessionActiveAt(now))
	case "revoked":
		q.Where(access.SessionRevoked())
	case "expired":
		q.Where(access.SessionExpiredAt(now))
	}
	if id := filterID(l, "userID"); id != 0 {
		q.Where(usersession.UserID(id))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order usersession.OrderOption
	switch l.Sort {
	case "user":
		order = usersession.ByUserField(user.FieldUsernameFold, o)
	case "lastSeen":
		order = usersession.ByLastSeenAt(o)
	case "expiresAt":
		order = usersession.ByExpiresAt(o)
	default:
		order = usersession.ByCreatedAt(o)
	}
	rows, err := q.Order(order, usersession.ByID(o)).WithUser().Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, sessions.List(d.page(r, "Sessions", "sessions"), sessions.ListData{
		List: l, Rows: rows, User: userPick, Now: now,
	}))
}

func (d *Dashboard) loadSession(w http.ResponseWriter, r *http.Request) (*ent.UserSession, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	s, err := d.client.UserSession.Query().Where(usersession.ID(id)).WithUser().Only(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return s, true
}

func (d *Dashboard) sessionDetail(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok {
		return
	}
	ret := returnOf(r)
	d.render(w, r, http.StatusOK, sessions.Detail(d.page(r, sessions.Title(s), "sessions"), sessions.DetailData{
		S: s, Now: d.svc.Now(), Return: ret, Here: components.WithReturn(sessions.Href(s.ID), ret),
	}))
}

func (d *Dashboard) maxLife() string {
	return config.Duration{Duration: d.auth.Config().AbsoluteTimeout}.String()
}

// sessionForm is an empty new-session form: its user picker offers
// enabled users only.
func (d *Dashboard) sessionForm(r *http.Request) sessions.Form {
	u := newPicker(pickUsers, "userID", "User", true)
	u.Params = "enabled=true"
	return sessions.Form{Errors: components.Errors{}, Return: returnOf(r), MaxLife: d.maxLife(), User: u}
}

// sessionPickOpts narrow the user picker of a new session.
var sessionPickOpts = pickOpts{enabledOnly: true}

func (d *Dashboard) sessionNew(w http.ResponseWriter, r *http.Request) {
	f := d.sessionForm(r)
	if v := r.URL.Query().Get("userID"); isID(v) {
		if err := d.setChoice(r.Context(), pickUsers, &f.User, v); err != nil {
			d.failure(w, r, err)
			return
		}
	}
	f.User.Autofocus = f.User.Value == ""
	d.render(w, r, http.StatusOK, sessions.FormPage(d.page(r, "Issue a session", "sessions"), f))
}

// keyToken is the cookie session's key under which a new session's token
// waits for the one page that shows it (see sessionIssued).
func keyToken(id int) string { return "sessionToken." + strconv.Itoa(id) }

// sessionCreate issues a token, keeps it in the cookie session for the
// one page that shows it, and sends the browser there (POST → 303 → GET):
// reloading that page shows the token no more and issues nothing.
func (d *Dashboard) sessionCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !d.parseForm(w, r) {
		return
	}
	f := d.sessionForm(r)
	fr := newFormReader(r)
	f.Errors = fr.errs
	f.ExpiresAt, f.Label = fr.str("expiresAt"), fr.str("label")
	var step pickStep
	var err error
	if f.User, step, err = d.readPicker(ctx, pickUsers, f.User, r.PostForm, sessionPickOpts); err != nil {
		d.failure(w, r, err)
		return
	}
	switch step {
	case pickFind:
		d.render(w, r, http.StatusOK, sessions.FormPage(d.page(r, "Issue a session", "sessions"), f))
		return
	case pickChoose:
		f.Errors.Add("userID", pickError(f.User))
	}
	in := service.IssueSessionInput{UserID: pickedID(f.Errors, f.User), ExpiresAt: fr.optTime("expiresAt")}
	if strings.TrimSpace(f.Label) != "" {
		in.Label = &f.Label
	}
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		p, err := d.svc.IssueSession(ctx, in, auth.ClientInfoFrom(ctx))
		if err == nil {
			d.sessions.Put(ctx, keyToken(p.Session.ID), p.Token)
			p.Session.Edges.User = p.User
			d.redirect(w, r, components.WithReturn(sessions.Href(p.Session.ID)+"/issued", f.Return), sessions.Title(p.Session)+" issued.")
			return
		}
		// IssueSession reports an unknown user without naming the field.
		if e, isApp := apperr.As(err); isApp && e.Code == apperr.NotFound && e.Field == "" {
			c := *e
			c.Field = "userID"
			err = &c
		}
		var ok bool
		if status, ok = formErrors(r, err, f.Errors, sessionFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, sessions.FormPage(d.page(r, "Issue a session", "sessions"), f))
}

// sessionIssued shows a new session's token once: it takes it out of the
// cookie session, so a reload finds none.
func (d *Dashboard) sessionIssued(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, sessions.Issued(d.page(r, "Session issued", "sessions"), sessions.IssuedData{
		Token: d.sessions.PopString(r.Context(), keyToken(s.ID)), S: s, User: s.Edges.User, Return: returnOf(r),
	}))
}

func (d *Dashboard) sessionEdit(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok {
		return
	}
	f := sessions.Form{
		ID: s.ID, Title: sessions.Title(s), ExpiresAt: components.InputTime(s.ExpiresAt),
		MaxLife: d.maxLife(), Errors: components.Errors{}, Return: returnOf(r),
	}
	d.render(w, r, http.StatusOK, sessions.FormPage(d.page(r, "Edit "+f.Title, "sessions"), f))
}

func (d *Dashboard) sessionUpdate(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	f := sessions.Form{
		ID: s.ID, Title: sessions.Title(s), ExpiresAt: fr.str("expiresAt"),
		MaxLife: d.maxLife(), Errors: fr.errs, Return: returnOf(r),
	}
	exp := fr.requiredTime("expiresAt")
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		saved, err := d.svc.SetSessionExpiry(r.Context(), s.ID, *exp)
		if err == nil {
			d.redirect(w, r, Or(f.Return, sessions.Href(s.ID)), f.Title+" now expires "+components.FormatTime(saved.ExpiresAt)+".")
			return
		}
		if status, ok = formErrors(r, err, f.Errors, sessionFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, sessions.FormPage(d.page(r, "Edit "+f.Title, "sessions"), f))
}

// sessionRevokeConfirm asks before a session's token stops working.
func (d *Dashboard) sessionRevokeConfirm(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok {
		return
	}
	text := "Its token stops working at once; the record stays (delete it to remove it)."
	if s.RevokedAt != nil {
		text = "It was revoked already: nothing will change."
	}
	d.render(w, r, http.StatusOK, pages.ConfirmPage(d.page(r, "Revoke "+sessions.Title(s), "sessions"), pages.Confirm{
		Title: "Revoke " + sessions.Title(s) + "?", Text: text,
		Action: sessions.Href(s.ID) + "/revoke", Button: "Revoke session",
		Back: Or(returnOf(r), sessions.Href(s.ID)), BackLabel: sessions.Title(s), Return: returnOf(r),
	}))
}

func (d *Dashboard) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.auth.RevokeSession(r.Context(), s.ID); err != nil {
		d.failure(w, r, err)
		return
	}
	msg := sessions.Title(s) + " revoked."
	if s.RevokedAt != nil {
		msg = sessions.Title(s) + " was already revoked."
	}
	d.redirect(w, r, Or(returnOf(r), sessions.Href(s.ID)), msg)
}

func (d *Dashboard) sessionDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	s, ok := d.loadSession(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, sessions.Delete(d.page(r, "Delete "+sessions.Title(s), "sessions"), sessions.DeleteData{
		S: s, Now: d.svc.Now(), Return: returnOf(r),
	}))
}

func (d *Dashboard) sessionDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, ok := d.loadSession(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeleteUserSession(ctx, s.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		d.render(w, r, statusOf(e), sessions.Delete(d.page(r, "Delete "+sessions.Title(s), "sessions"), sessions.DeleteData{
			S: s, Now: d.svc.Now(), Error: e.Message, Return: returnOf(r),
		}))
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), sessions.Href(s.ID), sessions.Path), sessions.Title(s)+" deleted.")
}
