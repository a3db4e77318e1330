package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/logging"
	"gatehouse/internal/viewer"
	"gatehouse/views/components"
	"gatehouse/views/pages"
)

// Cookie names of the dashboard session. With Secure cookies the name
// carries the __Host- prefix: the browser then only accepts the cookie
// from this host, over HTTPS, for Path=/ and without a Domain.
const (
	CookieName       = "gatehouse_admin"
	SecureCookieName = "__Host-" + CookieName
)

// Keys of the cookie session's data.
const (
	keyUserID    = "uid"
	keyEpoch     = "epoch" // the admin's session epoch at sign-in
	keyFlash     = "flash"
	keyFlashKind = "flashKind"
)

// badCredentials is the one answer to a failed sign-in, whatever the
// reason (unknown user, wrong password, disabled, not an admin).
const badCredentials = "invalid username or password"

// newSessionManager keeps dashboard sessions in the database (the sessions
// table db.Migrate creates), so they survive restarts and are shared by
// every replica.
func newSessionManager(cfg config.Dashboard, d *db.DB) (*scs.SessionManager, error) {
	sm := scs.New()
	switch d.Driver {
	case db.SQLite:
		sm.Store = newSQLiteSessions(d)
	case db.Postgres:
		if d.Pool == nil {
			return nil, errors.New("dashboard sessions: PostgreSQL database without a pgx pool")
		}
		sm.Store = pgxstore.NewWithCleanupInterval(d.Pool, 0)
	default:
		return nil, fmt.Errorf("dashboard sessions: unsupported database driver %q", d.Driver)
	}
	sm.IdleTimeout = cfg.SessionIdleTimeout.Duration
	sm.Lifetime = cfg.SessionAbsoluteTimeout.Duration
	if sm.IdleTimeout <= 0 || sm.Lifetime <= 0 {
		return nil, errors.New("dashboard sessions: idle and absolute timeouts must be positive")
	}
	// The store keys rows by the token's hash: a leaked table holds no
	// usable cookie.
	sm.HashTokenInStore = true
	sm.Cookie.Name = CookieName
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Domain = ""
	sm.Cookie.Persist = true
	if cfg.CookieSecure {
		sm.Cookie.Name = SecureCookieName
		sm.Cookie.Secure = true
	}
	return sm, nil
}

type adminKey struct{}

// currentAdmin returns the signed-in admin of a request that passed
// requireAdmin.
func currentAdmin(ctx context.Context) *ent.User {
	u, _ := ctx.Value(adminKey{}).(*ent.User)
	return u
}

// requireAdmin lets only a signed-in, enabled admin through, re-reading the
// user on every request: an admin who was disabled, demoted or deleted is
// signed out at once, and so is a session from before the admin's sessions
// were ended (password change, logout everywhere: the user's session epoch
// moved on since this session signed in). A session from before epochs were
// stored holds none, which reads as 0, the epoch every user started with.
// The admin's viewer goes into the request context so that ent's privacy
// rules apply to every query of the page.
func (d *Dashboard) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		uid := d.sessions.GetInt(ctx, keyUserID)
		if uid == 0 {
			d.toLogin(w, r)
			return
		}
		// Finding out who the viewer is happens before there is a viewer.
		u, err := d.client.User.Get(viewer.System(ctx), uid)
		if err != nil && !ent.IsNotFound(err) {
			d.serverError(w, r, err)
			return
		}
		if u == nil || u.Disabled || u.Role != user.RoleADMIN {
			if err := d.signOut(ctx); err != nil {
				d.serverError(w, r, err)
				return
			}
			d.flash(ctx, components.FlashInfo, "You have been signed out: your account is no longer an enabled admin.")
			d.toLogin(w, r)
			return
		}
		if d.sessions.GetInt(ctx, keyEpoch) != u.SessionEpoch {
			if err := d.signOut(ctx); err != nil {
				d.serverError(w, r, err)
				return
			}
			d.flash(ctx, components.FlashInfo, "You have been signed out: your password was changed or your sessions were ended.")
			d.toLogin(w, r)
			return
		}
		logging.Info(ctx).SetViewer(u.ID)
		ctx = viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Role: viewer.RoleAdmin, Username: u.Username})
		ctx = context.WithValue(ctx, adminKey{}, u)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// toLogin sends an anonymous request to the sign-in page, remembering the
// page it asked for (GETs only: a form cannot be replayed).
func (d *Dashboard) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/admin/login"
	if r.Method == http.MethodGet {
		if next := safeReturn(r.URL.RequestURI()); next != "" && next != "/admin/" {
			target += "?next=" + url.QueryEscape(next)
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signOut forgets the admin and renews the session token.
func (d *Dashboard) signOut(ctx context.Context) error {
	if err := d.sessions.RenewToken(ctx); err != nil {
		return err
	}
	d.sessions.Remove(ctx, keyUserID)
	d.sessions.Remove(ctx, keyEpoch)
	return nil
}

// keepSignedIn keeps the current session signed in after it ended all of
// its own admin's sessions (a new password, "revoke sessions" on their own
// account): it takes a new token and the admin's new session epoch. The
// admin's other dashboard sessions stay ended. Changes to other users'
// accounts leave the session as it is.
func (d *Dashboard) keepSignedIn(ctx context.Context, userID int) error {
	if a := currentAdmin(ctx); a == nil || a.ID != userID {
		return nil
	}
	u, err := d.client.User.Get(viewer.System(ctx), userID)
	if err != nil {
		return err
	}
	if err := d.sessions.RenewToken(ctx); err != nil {
		return err
	}
	d.sessions.Put(ctx, keyEpoch, u.SessionEpoch)
	return nil
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if d.sessions.GetInt(r.Context(), keyUserID) != 0 {
		// Already signed in (requireAdmin re-checks the account).
		http.Redirect(w, r, components.Or(safeReturn(r.URL.Query().Get("next")), "/admin/"), http.StatusSeeOther)
		return
	}
	d.render(w, r, http.StatusOK, pages.Login(d.page(r, "Sign in", ""), pages.LoginForm{
		Next: safeReturn(r.URL.Query().Get("next")),
	}))
}

// login checks the credentials through the throttled check the API's login
// uses, and admits admins only.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		d.badRequest(w, r)
		return
	}
	username := r.PostForm.Get("username")
	f := pages.LoginForm{Username: truncateRunes(strings.TrimSpace(username), 200), Next: safeReturn(r.PostForm.Get("next"))}
	u, err := d.auth.CheckCredentials(ctx, username, r.PostForm.Get("password"), auth.ClientInfoFrom(ctx))
	if err == nil && u.Role != user.RoleADMIN {
		err = apperr.New(apperr.Unauthenticated, badCredentials)
		// Right password, but not an admin: refused like a wrong one.
		if rerr := d.auth.RecordAttempt(ctx, "login.failed", username, u); rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		status := http.StatusUnauthorized
		switch e := apperr.CodeOf(err); e {
		case apperr.RateLimited:
			status = http.StatusTooManyRequests
			f.Error = classifyMessage(err)
		case apperr.Unauthenticated:
			f.Error = badCredentials
		default:
			d.serverError(w, r, err)
			return
		}
		d.render(w, r, status, pages.Login(d.page(r, "Sign in", ""), f))
		return
	}
	// A new token for the new privilege: no session fixation.
	if err := d.sessions.RenewToken(ctx); err != nil {
		d.serverError(w, r, err)
		return
	}
	d.sessions.Put(ctx, keyUserID, u.ID)
	d.sessions.Put(ctx, keyEpoch, u.SessionEpoch)
	// Recording the sign-in of the admin who just proved who they are.
	adminCtx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Role: viewer.RoleAdmin, Username: u.Username})
	if err := auth.WithTx(adminCtx, d.client, func(tx *ent.Tx) error {
		if err := tx.User.UpdateOneID(u.ID).SetLastLoginAt(d.svc.Now()).Exec(adminCtx); err != nil {
			return err
		}
		return d.auth.RecordLogin(adminCtx, tx, u)
	}); err != nil {
		d.log.WarnContext(ctx, "record dashboard sign-in", "err", err)
	}
	d.pruneSessions(ctx)
	d.flash(ctx, components.FlashSuccess, "Signed in as "+u.Username+".")
	http.Redirect(w, r, components.Or(f.Next, "/admin/"), http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := d.signOut(ctx); err != nil {
		d.serverError(w, r, err)
		return
	}
	d.flash(ctx, components.FlashInfo, "You have been signed out.")
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// pruneSessions deletes expired cookie sessions, at most once an hour.
func (d *Dashboard) pruneSessions(ctx context.Context) {
	now := time.Now().UnixNano()
	last := d.lastPrune.Load()
	if now-last < int64(time.Hour) || !d.lastPrune.CompareAndSwap(last, now) {
		return
	}
	stmt := `DELETE FROM sessions WHERE expiry < julianday('now')`
	if d.db.Driver == db.Postgres {
		stmt = `DELETE FROM sessions WHERE expiry < current_timestamp`
	}
	release, err := d.db.WriteTurn(ctx)
	if err == nil {
		defer release()
		_, err = d.db.SQL.ExecContext(ctx, stmt)
	}
	if err != nil {
		d.log.WarnContext(ctx, "prune dashboard sessions", "err", err)
	}
}

// flash stores a message for the next page.
func (d *Dashboard) flash(ctx context.Context, kind, msg string) {
	d.sessions.Put(ctx, keyFlash, msg)
	d.sessions.Put(ctx, keyFlashKind, kind)
}

// popFlash takes the stored message, if any.
func (d *Dashboard) popFlash(ctx context.Context) *components.Flash {
	if !d.sessions.Exists(ctx, keyFlash) {
		return nil
	}
	msg := d.sessions.PopString(ctx, keyFlash)
	kind := d.sessions.PopString(ctx, keyFlashKind)
	if msg == "" {
		return nil
	}
	return &components.Flash{Kind: components.Or(kind, components.FlashInfo), Message: msg}
}

// redirect answers a successful POST: flash, then see the next page.
func (d *Dashboard) redirect(w http.ResponseWriter, r *http.Request, to, msg string) {
	if msg != "" {
		d.flash(r.Context(), components.FlashSuccess, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
