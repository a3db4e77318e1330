package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/user"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/pages"
	"gatehouse/views/sessions"
)

// sessionForm is the session form with what it decoded for the service.
type sessionForm struct {
	sessions.Form
	issue  service.IssueSessionInput
	expiry *time.Time
	again  int
	zone   *time.Location
}

func sessionLabel(s *ent.UserSession) string {
	return strings.TrimPrefix(sessions.Title(s), "Session ")
}

func (d *Dashboard) sessionResource() *resource[*ent.UserSession, sessionForm] {
	rs := &resource[*ent.UserSession, sessionForm]{
		d: d, name: "session", plural: "sessions", title: "Sessions",
		path: sessions.Path, section: "sessions", subject: events.SubjectSession,
		table: entTable[*ent.UserSession, *ent.UserSessionQuery, predicate.UserSession, usersession.OrderOption](func() *ent.UserSessionQuery {
			return d.client.UserSession.Query().WithUser()
		}),
		get: func(ctx context.Context, id int) (*ent.UserSession, error) {
			return d.client.UserSession.Query().Where(usersession.ID(id)).WithUser().Only(ctx)
		},
		id:    func(s *ent.UserSession) int { return s.ID },
		label: sessionLabel,

		searchLabel: "User, client or IP",
		search: func(q string) func(*sql.Selector) {
			return usersession.Or(
				usersession.HasUserWith(user.UsernameFoldContains(strings.ToLower(q))),
				usersession.IPContains(q),
				usersession.UserAgentContainsFold(q),
			)
		},
		filters: []filter{
			{name: "status", title: "State", ok: oneOf("active", "revoked", "expired"),
				where: func(v string) func(*sql.Selector) {
					switch v {
					case "active":
						return access.SessionActiveAt(d.svc.Now())
					case "revoked":
						return access.SessionRevoked()
					}
					return access.SessionExpiredAt(d.svc.Now())
				},
				options: staticOptions(sessions.StatusFilter)},
			{name: "userID", title: "User", ok: isID, pick: &pickUsers,
				where: idWhere(usersession.UserID)},
		},
		sorts: []sortCol[*ent.UserSession]{
			{key: "created", title: "Created", column: usersession.FieldCreatedAt, kind: kindTime, value: func(s *ent.UserSession) any { return s.CreatedAt.UTC() }},
			{key: "lastSeen", title: "Last seen", column: usersession.FieldLastSeenAt, kind: kindTime, value: func(s *ent.UserSession) any { return s.LastSeenAt.UTC() }},
			{key: "expiresAt", title: "Expires", column: usersession.FieldExpiresAt, kind: kindTime, value: func(s *ent.UserSession) any { return s.ExpiresAt.UTC() }},
		},
		sort: "created", desc: true,
		columns: []column[*ent.UserSession]{
			{title: "Session",
				cell: func(s *ent.UserSession, _ int) templ.Component { return components.Text(sessionLabel(s)) }},
			{title: "User",
				csv: func(s *ent.UserSession, _ int) string {
					if s.Edges.User == nil {
						return ""
					}
					return s.Edges.User.Username
				}},
			{title: "Client",
				cell: func(s *ent.UserSession, _ int) templ.Component { return sessions.ClientCell(s) },
				csv:  func(s *ent.UserSession, _ int) string { return s.UserAgent }},
			{title: "IP", csv: func(s *ent.UserSession, _ int) string { return s.IP }},
			{title: "Created", sort: "created",
				cell: func(s *ent.UserSession, _ int) templ.Component { return components.When(s.CreatedAt) },
				csv:  func(s *ent.UserSession, _ int) string { return csvTime(s.CreatedAt) }},
			{title: "Last seen", sort: "lastSeen",
				cell: func(s *ent.UserSession, _ int) templ.Component { return components.When(s.LastSeenAt) },
				csv:  func(s *ent.UserSession, _ int) string { return csvTime(s.LastSeenAt) }},
			{title: "Expires", sort: "expiresAt",
				cell: func(s *ent.UserSession, _ int) templ.Component { return components.When(s.ExpiresAt) },
				csv:  func(s *ent.UserSession, _ int) string { return csvTime(s.ExpiresAt) }},
			{title: "State",
				cell: func(s *ent.UserSession, _ int) templ.Component { return components.SessionBadge(s, d.svc.Now()) },
				csv:  func(s *ent.UserSession, _ int) string { return components.SessionState(s, d.svc.Now()) }},
		},
		rowAction: func(s *ent.UserSession, ret string) templ.Component {
			return sessions.RevokeLink(s, d.svc.Now(), ret)
		},
		newLabel: "Issue a session",
		detail: func(r *http.Request, p layout.Page, s *ent.UserSession) (templ.Component, error) {
			ret := returnOf(r)
			return sessions.Detail(p, sessions.DetailData{
				S: s, Now: d.svc.Now(), Return: ret, Here: components.WithReturn(sessions.Href(s.ID), ret),
			}), nil
		},
		remove: func(ctx context.Context, s *ent.UserSession) error {
			_, err := d.svc.DeleteUserSession(ctx, s.ID)
			return err
		},
		removeInfo: func(ctx context.Context, s *ent.UserSession) (deleteInfo, error) {
			if components.SessionState(s, d.svc.Now()) == "active" {
				return deleteInfo{Effects: []string{"Its token stops working at once."}}, nil
			}
			return deleteInfo{Effects: []string{"It no longer works: only its record goes."}}, nil
		},
	}
	rs.bulk = []bulkAction[*ent.UserSession]{
		{key: "revoke", label: "Revoke", done: "revoked", danger: true,
			apply: func(ctx context.Context, s *ent.UserSession, _ int) (bool, error) {
				if s.RevokedAt != nil {
					return false, nil
				}
				_, err := d.auth.RevokeSession(ctx, s.ID)
				return true, err
			},
			effect: fixedEffect("Their tokens stop working at once; the records stay."),
		},
		{key: "delete", label: "Delete", done: "deleted", danger: true,
			apply: func(ctx context.Context, s *ent.UserSession, _ int) (bool, error) {
				_, err := d.svc.DeleteUserSession(ctx, s.ID)
				return true, err
			},
			effect: fixedEffect("Their tokens stop working at once, and the records go. This cannot be undone."),
		},
	}
	f := &rs.form
	f.fields = []string{"userID", "expiresAt", "label"}
	f.blank = func(r *http.Request) (sessionForm, error) {
		sf := d.newSessionForm(r)
		if v := r.URL.Query().Get("userID"); isID(v) {
			if err := d.setChoice(r.Context(), pickUsers, &sf.User, v); err != nil {
				return sessionForm{}, err
			}
		}
		sf.User.Autofocus = sf.User.Value == ""
		return sessionForm{Form: sf}, nil
	}
	f.edit = func(r *http.Request, s *ent.UserSession) (sessionForm, error) {
		return sessionForm{Form: sessions.Form{
			ID: s.ID, Title: sessions.Title(s), ExpiresAt: components.InputTime(s.ExpiresAt),
			MaxLife: d.maxLife(), Errors: components.Errors{}, Return: returnOf(r),
		}}, nil
	}
	f.read = d.readSessionForm
	f.again = func(_ *http.Request, sf *sessionForm) int { return sf.again }
	f.create = func(ctx context.Context, sf sessionForm) (*ent.UserSession, error) {
		p, err := d.svc.IssueSession(ctx, sf.issue, auth.ClientInfoFrom(ctx))
		if err != nil {
			// IssueSession reports an unknown user without naming the field.
			if e, isApp := apperr.As(err); isApp && e.Code == apperr.NotFound && e.Field == "" {
				c := *e
				c.Field = "userID"
				err = &c
			}
			return nil, err
		}
		// The token waits in the cookie session for the one page that
		// shows it (see sessionIssued).
		d.sessions.Put(ctx, keyToken(p.Session.ID), p.Token)
		p.Session.Edges.User = p.User
		return p.Session, nil
	}
	f.update = func(ctx context.Context, s *ent.UserSession, sf sessionForm) (*ent.UserSession, error) {
		return d.svc.SetSessionExpiry(ctx, s.ID, *sf.expiry)
	}
	f.view = func(p layout.Page, sf sessionForm) templ.Component { return sessions.FormPage(p, sf.Form) }
	rs.savedTo = func(s *ent.UserSession, created bool) string {
		if created {
			// POST → 303 → GET: reloading that page issues nothing.
			return sessions.Href(s.ID) + "/issued"
		}
		return ""
	}
	rs.savedText = func(s *ent.UserSession, sf sessionForm, created bool) string {
		if created {
			return sessions.Title(s) + " issued."
		}
		return sessions.Title(s) + " now expires " + components.FormatTimeIn(s.ExpiresAt, sf.zone) + "."
	}
	return rs
}

// readSessionForm decodes a posted session form: a new one's user picker
// (a search shows the form again), label and expiry, or an existing one's
// expiry.
func (d *Dashboard) readSessionForm(r *http.Request, old **ent.UserSession) (sessionForm, components.Errors, error) {
	ctx := r.Context()
	fr := newFormReader(r)
	out := sessionForm{zone: components.Zone(ctx)}
	if old != nil {
		s := *old
		out.Form = sessions.Form{
			ID: s.ID, Title: sessions.Title(s), ExpiresAt: fr.str("expiresAt"),
			MaxLife: d.maxLife(), Errors: fr.errs, Return: returnOf(r),
		}
		out.expiry = fr.requiredTime("expiresAt")
		return out, out.Errors, nil
	}
	f := d.newSessionForm(r)
	f.Errors = fr.errs
	f.ExpiresAt, f.Label = fr.str("expiresAt"), fr.str("label")
	var step pickStep
	var err error
	if f.User, step, err = d.readPicker(ctx, pickUsers, f.User, r.PostForm, sessionPickOpts); err != nil {
		return out, nil, err
	}
	out.Form = f
	switch step {
	case pickFind:
		out.again = http.StatusOK
		return out, f.Errors, nil
	case pickChoose:
		f.Errors.Add("userID", pickError(f.User))
	}
	out.issue = service.IssueSessionInput{UserID: pickedID(f.Errors, f.User), ExpiresAt: fr.optTime("expiresAt")}
	if strings.TrimSpace(f.Label) != "" {
		out.issue.Label = &f.Label
	}
	return out, f.Errors, nil
}

func (d *Dashboard) maxLife() string {
	return config.Duration{Duration: d.auth.Config().AbsoluteTimeout}.String()
}

// newSessionForm is an empty new-session form: its user picker offers
// enabled users only.
func (d *Dashboard) newSessionForm(r *http.Request) sessions.Form {
	u := newPicker(pickUsers, "userID", "User", true)
	u.Params = "enabled=true"
	return sessions.Form{Errors: components.Errors{}, Return: returnOf(r), MaxLife: d.maxLife(), User: u}
}

// sessionPickOpts narrow the user picker of a new session.
var sessionPickOpts = pickOpts{enabledOnly: true}

// keyToken is the cookie session's key under which a new session's token
// waits for the one page that shows it (see sessionIssued).
func keyToken(id int) string { return "sessionToken." + strconv.Itoa(id) }

// sessionIssued shows a new session's token once: it takes it out of the
// cookie session, so a reload finds none.
func (d *Dashboard) sessionIssued(w http.ResponseWriter, r *http.Request) {
	s, ok := d.sessionsRes.load(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, sessions.Issued(d.page(r, "Session issued", "sessions"), sessions.IssuedData{
		Token: d.sessions.PopString(r.Context(), keyToken(s.ID)), S: s, User: s.Edges.User, Return: returnOf(r),
	}))
}

// sessionRevokeConfirm asks before a session's token stops working.
func (d *Dashboard) sessionRevokeConfirm(w http.ResponseWriter, r *http.Request) {
	s, ok := d.sessionsRes.load(w, r)
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
		Back: components.Or(returnOf(r), sessions.Href(s.ID)), BackLabel: sessions.Title(s), Return: returnOf(r),
	}))
}

func (d *Dashboard) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	s, ok := d.sessionsRes.load(w, r)
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
	d.redirect(w, r, components.Or(returnOf(r), sessions.Href(s.ID)), msg)
}
