// Package app assembles Gatehouse from a configuration: the database, the
// sign-in and domain services, and the HTTP handler. The binary and the
// tests build the server the same way through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"gatehouse/ent"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/jobs"
	"gatehouse/internal/live"
	"gatehouse/internal/metrics"
	"gatehouse/internal/server"
	"gatehouse/internal/service"
	"gatehouse/internal/signing"
	"gatehouse/internal/timedevents"
	"gatehouse/internal/tracing"
	"gatehouse/internal/webhooks"
)

// App is an assembled Gatehouse.
type App struct {
	Config  config.Config
	DB      *db.DB
	Auth    *auth.Service
	Service *service.Service
	Logger  *slog.Logger
	Handler http.Handler
	// Jobs runs the background jobs, one replica at a time under a lease
	// in the database: register them while assembling; the server
	// starts them once it is ready to serve (StartJobs) and stops them
	// when it shuts down (StopJobs).
	Jobs *jobs.Runner
	// Webhooks sends the webhook deliveries (the job webhooks.send).
	Webhooks *webhooks.Deliverer
	// Signer signs entitlement tokens and serves the JWKS (nil with
	// Options.NoSigning).
	Signer *signing.Signer
	// Live holds the accessChanged subscriptions of this process.
	Live *live.Hub
	// Tracer receives the traces (nil: tracing is off).
	Tracer      trace.TracerProvider
	stopTracing func(context.Context) error
	// Metrics are this process's Prometheus metrics (nil when
	// metrics.listen is empty); the server serves Metrics.Handler() on
	// metrics.listen.
	Metrics *metrics.Metrics
}

// DashboardFactory builds the /admin/ handler; nil serves no dashboard.
type DashboardFactory func(a *App) (http.Handler, error)

// Options adjust assembly.
type Options struct {
	// Migrate the schema before serving (config's auto_migrate for serve).
	Migrate   bool
	Dashboard DashboardFactory
	// TestBcryptCost is for tests only: see auth.Config.TestBcryptCost.
	// The binary never sets it.
	TestBcryptCost int
	// NoSigning assembles without the signing keys (and so without their
	// secret): for console commands that serve nothing.
	NoSigning bool
	// TracerProvider, when set, receives the traces instead of the
	// exporter [tracing] configures (tests use an in-memory one).
	TracerProvider trace.TracerProvider
}

// AuthConfig turns the configuration into the sign-in service's settings.
func AuthConfig(cfg config.Config, driver string) auth.Config {
	return auth.Config{
		BcryptCost:      cfg.Auth.BcryptCost,
		IdleTimeout:     cfg.Auth.SessionIdleTimeout.Duration,
		AbsoluteTimeout: cfg.Auth.SessionAbsoluteTimeout.Duration,
		TouchInterval:   cfg.Auth.SessionTouchInterval.Duration,
		Throttle: auth.ThrottleConfig{
			MaxFailures: cfg.Throttle.MaxFailures,
			Window:      cfg.Throttle.Window.Duration,
			Lockout:     cfg.Throttle.Lockout.Duration,
			Step:        auth.DefaultThrottleConfig().Step,
		},
		Hashing: auth.HashingConfig{
			Concurrency: cfg.Auth.PasswordHashConcurrency,
			Wait:        cfg.Auth.PasswordHashWait.Duration,
		},
	}
}

// OpenDB opens the configured database.
func OpenDB(ctx context.Context, cfg config.Config) (*db.DB, error) {
	return db.Open(ctx, db.Options{
		Driver:       cfg.Database.Driver,
		DSN:          cfg.Database.DSN,
		MaxOpenConns: cfg.Database.MaxOpenConns,
		BusyTimeout:  cfg.Database.BusyTimeout.Duration,
	})
}

// New opens the database and assembles Gatehouse over it.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (*App, error) {
	d, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a, err := Assemble(ctx, cfg, d, log, o)
	if err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

// Assemble builds Gatehouse over an open database.
func Assemble(ctx context.Context, cfg config.Config, d *db.DB, log *slog.Logger, o Options) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	if o.Migrate {
		if err := d.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	tp, stopTracing := o.TracerProvider, func(context.Context) error { return nil }
	if tp == nil {
		var err error
		if tp, stopTracing, err = tracing.New(ctx, cfg.Tracing, ""); err != nil {
			return nil, err
		}
	}
	if tp != nil {
		// A span per SQL statement: every part of Gatehouse uses this
		// client, so wrap it before any is built.
		d.Ent = ent.NewClient(ent.Driver(tracing.Driver(d.EntDriver(), tp)))
	}
	ac := AuthConfig(cfg, d.Driver)
	ac.TestBcryptCost = o.TestBcryptCost
	as, err := auth.New(d.Ent, ac)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	jo := jobs.Options{TTL: cfg.Jobs.LeaseTTL.Duration, Logger: log}
	var m *metrics.Metrics
	if cfg.Metrics.Enabled() {
		m = metrics.New(log)
		as.ObserveLogins(m.Login)
		jo.Wrap = m.WrapJob
	}
	a := &App{
		Config: cfg, DB: d, Auth: as, Service: service.New(d.Ent, as), Logger: log,
		Jobs: jobs.New(d, jo), Metrics: m,
		Tracer: tp, stopTracing: stopTracing,
	}
	// Every event gets its webhook deliveries in its own transaction; the
	// sender posts them in the background, one replica at a time.
	outbox := webhooks.NewOutbox()
	if d.Driver == db.SQLite {
		outbox.CacheEndpoints(d.Ent)
	}
	a.Service.Events().AddOutbox(outbox)
	a.Webhooks = webhooks.NewDeliverer(d.Ent, webhooks.NewSender(cfg.Webhooks), log)
	a.Jobs.Register(webhooks.JobName, webhooks.JobEvery, a.Webhooks.Run)
	registerEventJobs(a)
	if !o.NoSigning {
		if a.Signer, err = NewSigner(ctx, cfg, d, log, a.Service.Now); err != nil {
			return nil, err
		}
	}
	// Every event tells, once committed, whose access it may have altered
	// (over NOTIFY on PostgreSQL, to every replica).
	a.Live = live.New(d.Ent, a.Service, live.Options{
		MaxPerUser: cfg.Live.MaxPerUser, MaxSubscriptions: cfg.Live.MaxSubscriptions, Pool: d.Pool, Logger: log,
	})
	a.Service.Events().AddOutbox(a.Live.Outbox())
	var dash http.Handler
	if o.Dashboard != nil {
		if dash, err = o.Dashboard(a); err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
	}
	if m != nil {
		a.Webhooks.ObserveOutcomes(m.WebhookDelivery)
		m.WatchDB(d)
		m.WatchSessions(d.Ent, a.Service.Now)
		m.GaugeFunc("live_subscriptions", "accessChanged subscriptions open in this process.",
			func() float64 { return float64(a.Live.Count()) })
	}
	a.Handler = server.Handler(server.Deps{
		Config: cfg, DB: d, Auth: as, Service: a.Service, Logger: log, Dashboard: dash, Live: a.Live,
		Signer: a.Signer, Metrics: m, Tracer: tp,
	})
	return a, nil
}

// SigningOptions turns the configuration into the signer's settings.
func SigningOptions(cfg config.Config, log *slog.Logger, now func() time.Time) signing.Options {
	return signing.Options{
		Issuer:     cfg.Signing.Issuer,
		DefaultTTL: cfg.Signing.DefaultTTL.Duration,
		MaxTTL:     cfg.Signing.MaxTTL.Duration,
		Now:        now,
		Logger:     log,
	}
}

// NewSigner finds the signing secret (signing.ResolveSecret), then makes
// the first signing key if the database has none and checks that the
// secret opens the current one.
func NewSigner(ctx context.Context, cfg config.Config, d *db.DB, log *slog.Logger, now func() time.Time) (*signing.Signer, error) {
	secret, err := signing.ResolveSecret(ctx, cfg.Signing, d, log)
	if err != nil {
		return nil, err
	}
	s, err := signing.New(d.Ent, secret, SigningOptions(cfg, log, now))
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Names of the event log's background jobs.
const (
	JobTimedEvents     = "events.timed"
	JobEventsRetention = "events.retention"
)

// EventsRetentionEvery is how often old events are pruned.
const EventsRetentionEvery = time.Hour

// registerEventJobs registers the event log's jobs: the time-based events
// (every events.timed_every) and the pruning of events older than
// events.retention.
func registerEventJobs(a *App) {
	ev := a.Config.Events
	timed := timedevents.New(a.DB, a.Auth.Events(), timedevents.Options{Lead: ev.ExpiringLead.Duration})
	a.Jobs.Register(JobTimedEvents, ev.TimedEvery.Duration, timed.Job)
	ret := timedevents.NewRetention(a.DB, a.Auth.Events(), ev.Retention.Duration, 0, nil)
	a.Jobs.Register(JobEventsRetention, EventsRetentionEvery, ret.Job)
}

// StartJobs starts the registered background jobs (none: nothing runs).
// They run until StopJobs.
func (a *App) StartJobs(ctx context.Context) { a.Jobs.Start(ctx) }

// StopJobs cancels the background jobs and waits, at most grace, until
// they have returned and handed their leases over: another replica takes
// each job over at its next tick. Jobs still running after grace keep
// their leases, renewed, until they return; StopJobs then reports them.
func (a *App) StopJobs(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := a.Jobs.Stop(ctx); err != nil {
		return fmt.Errorf("background jobs still running after %s: %w", grace, err)
	}
	return nil
}

// Close ends the open subscriptions and closes the database.
func (a *App) Close() error {
	a.Live.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The last spans go out before the database closes.
	return errors.Join(a.stopTracing(ctx), a.DB.Close())
}
