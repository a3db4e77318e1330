// Package server wires Gatehouse's HTTP face: routes, middleware, the
// http.Server with its timeouts, and graceful shutdown.
package server

import (
	"go.opentelemetry.io/otel/trace"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"gatehouse/graph"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/live"
	"gatehouse/internal/metrics"
	"gatehouse/internal/persisted"
	"gatehouse/internal/playground"
	"gatehouse/internal/service"
	"gatehouse/internal/signing"
	"gatehouse/internal/tracing"
)

// Deps are what the HTTP face serves.
type Deps struct {
	Config  config.Config
	DB      *db.DB
	Auth    *auth.Service
	Service *service.Service
	Logger  *slog.Logger
	// Dashboard serves /admin/ (nil: no dashboard).
	Dashboard http.Handler
	// Signer signs entitlement tokens and serves the JWKS (nil: neither).
	Signer *signing.Signer
	// Live holds the accessChanged subscriptions (nil: none served).
	Live *live.Hub
	// Tracer receives the traces (nil: tracing is off).
	Tracer trace.TracerProvider
	// Metrics counts requests and GraphQL operations (nil: nothing is
	// measured). It is served elsewhere, never by this handler.
	Metrics *metrics.Metrics
}

// Handler returns the whole HTTP handler.
func Handler(d Deps) http.Handler {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := d.Config
	trusted := cfg.Server.TrustedPrefixes()
	mux := http.NewServeMux()

	gopts := graph.Options{
		Introspection: cfg.GraphQL.Introspection,
		MaxComplexity: cfg.GraphQL.MaxComplexity,
		MaxDepth:      cfg.GraphQL.MaxDepth,
		Logger:        log,
		Keepalive:     cfg.Live.Keepalive.Duration,
		Persisted:     persisted.NewCache(persisted.NewRegistry(d.DB.Ent), cfg.GraphQL.PersistedOnly),
		PersistedOnly: cfg.GraphQL.PersistedOnly,
		Tracer:        d.Tracer,
		FieldSpanFrom: cfg.Tracing.FieldThreshold.Duration,
	}
	if d.Metrics != nil {
		gopts.Extensions = append(gopts.Extensions, d.Metrics.GraphQL())
	}
	api := graph.NewHandler(&graph.Resolver{Client: d.DB.Ent, Auth: d.Auth, Service: d.Service, Signer: d.Signer, Live: d.Live}, gopts)
	co := cors{origins: cfg.Server.AllowedOrigins()}
	mux.Handle("POST /graphql", co.wrap(bearer(d.Auth, log, api)))
	mux.Handle("/graphql", co.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && isWebsocket(r) {
			if !co.websocketOrigin(r) {
				writeJSONError(w, http.StatusForbidden, graph.CodeBadRequest, "WebSockets are accepted only from this server's own origin and those in server.cors_origins")
				return
			}
			bearer(d.Auth, log, api).ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet {
			// Queries by GET (never mutations), e.g. a persisted query's hash.
			bearer(d.Auth, log, api).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, graph.CodeBadRequest, "send GraphQL requests as POST with a JSON body (subscriptions: a graphql-ws WebSocket, or POST with Accept: text/event-stream)")
	})))
	if cfg.GraphQL.Playground {
		// GraphiQL, served from the binary (internal/playground).
		pg := playground.Handler("/graphql")
		mux.Handle("GET "+playground.Path, pg)
		mux.Handle("GET "+playground.AssetsPath, pg)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", readyz(d.DB, log))
	if d.Signer != nil {
		mux.Handle("GET "+signing.JWKSPath, d.Signer.Handler())
	}
	if d.Dashboard != nil {
		mux.Handle("/admin/", metrics.RecordRoute(d.Dashboard))
		mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprint(w, "Gatehouse\n\nPOST /graphql   the GraphQL API\nGET  /playground  explore it\nGET  /admin/      the admin dashboard\n")
	})

	var h http.Handler = metrics.RecordRoute(mux)
	h = limitBody(cfg.Server.MaxBodyBytes, h)
	h = withClientInfo(trusted, h)
	h = securityHeaders(h)
	h = recoverPanics(log, h)
	if d.Metrics != nil {
		h = d.Metrics.Middleware(h)
	}
	h = requestLog(log, trusted, h)
	// Outermost: the request's span (continuing a traceparent), which the
	// access line names by its trace id.
	return tracing.Handler(d.Tracer, h)
}

// readyz answers 200 "ready" when the database answers and takes writes,
// else 503 with the reason: "database unreachable", or "database cannot
// take writes: disk full" (or "read-only", ...). Whether it takes writes
// is checked by a small write at most every db.WriteCheckInterval; a
// change of that verdict is logged once, with the error behind it.
func readyz(d *db.DB, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.Ping(ctx); err != nil {
			log.WarnContext(r.Context(), "readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		st := d.CheckWrites(ctx)
		switch {
		case st.Changed && st.Reason != "":
			log.ErrorContext(r.Context(), "readiness check: the database cannot take writes", "reason", st.Reason, "err", st.Err)
		case st.Changed:
			log.InfoContext(r.Context(), "readiness check: the database takes writes again")
		}
		if st.Reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database cannot take writes: " + st.Reason + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	}
}

// HTTPServer returns an http.Server with the configured timeouts.
func HTTPServer(cfg config.Server, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              cfg.Listen,
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout.Duration,
		ReadTimeout:       cfg.ReadTimeout.Duration,
		WriteTimeout:      cfg.WriteTimeout.Duration,
		IdleTimeout:       cfg.IdleTimeout.Duration,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx is done, then stops accepting (the listener
// is closed, so new connections are refused), closes idle connections and
// lets in-flight requests finish within grace. Requests still running after
// grace have their connections closed and Serve reports it.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("requests still in flight after the %s grace period (server.shutdown_grace) were cut off", grace)
		}
		log.Error("shutdown", "err", err)
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
