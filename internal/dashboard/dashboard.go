// Package dashboard is the server-rendered admin dashboard at /admin/: a
// cookie-session sign-in for admins, and list / new / detail / edit / delete
// pages for users, features, packages, package contents, user packages,
// sessions and webhook endpoints, and the Activity page (the event log).
//
// Every handler is decode → validate through internal/service → ent →
// views: rules live in the ent schema and internal/service, never here. The
// signed-in admin's viewer is in every request's context, so ent's privacy
// rules apply to every query a page makes.
package dashboard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/alexedwards/scs/v2"

	"gatehouse/ent"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/metrics"
	"gatehouse/internal/service"
	"gatehouse/views/users"
)

// Dashboard serves the admin dashboard.
type Dashboard struct {
	svc      *service.Service
	auth     *auth.Service
	client   *ent.Client
	db       *db.DB
	log      *slog.Logger
	sessions *scs.SessionManager
	assets   *assets
	// The resources whose pages other handlers share.
	users        *resource[*ent.User, users.Form]
	userPackages *resource[*ent.UserPackage, userPackageForm]
	sessionsRes  *resource[*ent.UserSession, sessionForm]
	// lastPrune (unix nanoseconds) limits how often sign-ins sweep expired
	// cookie sessions.
	lastPrune atomic.Int64
}

// Deps is what the dashboard works with: the database, the domain
// services over it, its settings and a logger.
type Deps struct {
	Config  config.Dashboard
	DB      *db.DB
	Service *service.Service
	Auth    *auth.Service
	Logger  *slog.Logger
}

// New builds the dashboard served at /admin/.
func New(deps Deps) (http.Handler, error) {
	if deps.DB == nil || deps.Service == nil || deps.Auth == nil {
		return nil, errors.New("dashboard: database, service and sign-in service are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		svc:    deps.Service,
		auth:   deps.Auth,
		client: deps.DB.Ent,
		db:     deps.DB,
		log:    log,
		assets: as,
	}
	if d.sessions, err = newSessionManager(deps.Config, deps.DB); err != nil {
		return nil, err
	}
	d.sessions.ErrorFunc = d.sessionError
	d.users = d.userResource()
	d.userPackages = d.userPackageResource()
	d.sessionsRes = d.sessionResource()
	return d.routes(), nil
}

// routes builds the handler: static files outside the cookie session,
// everything else inside it, behind cross-origin protection.
func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /admin/login", d.loginPage)
	mux.HandleFunc("POST /admin/login", d.login)
	mux.HandleFunc("POST /admin/logout", d.logout)

	admin := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, d.requireAdmin(d.withZone(h))) }

	admin("GET /admin/{$}", d.overview)

	admin("GET /admin/account", d.account)
	admin("POST /admin/account", d.accountUpdate)

	d.users.mount(admin)
	admin("GET /admin/users/{id}/revoke-sessions", d.userRevokeSessionsConfirm)
	admin("POST /admin/users/{id}/revoke-sessions", d.userRevokeSessions)

	d.featureResource().mount(admin)

	d.packageResource().mount(admin)

	d.contentResource().mount(admin)

	d.userPackages.mount(admin)
	admin("POST /admin/user-packages/{id}/extend", d.withHistory(events.SubjectUserPackage, d.userPackageExtend))
	admin("POST /admin/user-packages/{id}/suspend", d.withHistory(events.SubjectUserPackage, d.userPackageSuspend))
	admin("POST /admin/user-packages/{id}/resume", d.userPackageResume)

	d.sessionsRes.mount(admin)
	admin("GET /admin/sessions/{id}/issued", d.sessionIssued)
	admin("GET /admin/sessions/{id}/revoke", d.sessionRevokeConfirm)
	admin("POST /admin/sessions/{id}/revoke", d.sessionRevoke)

	admin("GET /admin/activity", d.activity)

	// Pickers: at most 20 matching users, packages or features, as JSON.
	admin("GET /admin/pick/{kind}", d.pick)

	d.mountWebhooks(admin)

	// Anything else under /admin/ is a page that does not exist.
	admin("/admin/", func(w http.ResponseWriter, r *http.Request) { d.notFound(w, r) })

	// Every state-changing request must come from this origin.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(d.crossOriginDenied))

	top := http.NewServeMux()
	top.Handle("GET /admin/static/", d.assets)
	top.Handle("/admin/", d.sessions.LoadAndSave(cop.Handler(metrics.RecordRoute(mux))))
	return top
}

func (d *Dashboard) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	d.log.ErrorContext(r.Context(), "dashboard session store", "err", err)
	d.plainError(w, http.StatusInternalServerError)
}

func (d *Dashboard) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	d.renderError(w, r, http.StatusForbidden, "Request refused",
		"This form was sent from another site, so it was not accepted. Open the page in the dashboard and send it again.")
}

// plainError answers without rendering a page (when rendering itself
// failed).
func (d *Dashboard) plainError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "%d %s\n", status, http.StatusText(status))
}
