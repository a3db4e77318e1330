package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/bench/internal/seed"
	"gatehouse/ent"
	"gatehouse/internal/app"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
)

// inProcess is Gatehouse served from this process over a database whose
// ent client counts the SQL statements it sends.
type inProcess struct {
	url        string
	statements atomic.Int64
	srv        *httptest.Server
	app        *app.App
}

// startInProcess assembles Gatehouse over the seeded database, as `serve`
// does, with a statement-counting ent client.
func startInProcess(ctx context.Context, driver, dsn string) (*inProcess, error) {
	cfg := serverConfig(driver, dsn)
	d, err := db.Open(ctx, db.Options{Driver: driver, DSN: dsn, MaxOpenConns: cfg.Database.MaxOpenConns, BusyTimeout: cfg.Database.BusyTimeout.Duration})
	if err != nil {
		return nil, err
	}
	p := &inProcess{}
	name := dialect.SQLite
	if driver == db.Postgres {
		name = dialect.Postgres
	}
	drv := dialect.DebugWithContext(entsql.OpenDB(name, d.SQL), func(context.Context, ...any) { p.statements.Add(1) })
	d.Ent = ent.NewClient(ent.Driver(drv))
	a, err := app.Assemble(ctx, cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		d.Close()
		return nil, err
	}
	p.app = a
	p.srv = httptest.NewServer(a.Handler)
	p.url = p.srv.URL
	return p, nil
}

func (p *inProcess) close() {
	p.srv.Close()
	p.app.Close()
}

// serverConfig is the configuration Gatehouse runs with in the benchmark:
// the defaults, the seeded database, bcrypt cost 10, and 127.0.0.1 as a
// trusted proxy (W3's clients each come from an address of their own).
func serverConfig(driver, dsn string) config.Config {
	cfg := config.Default()
	cfg.Database.Driver, cfg.Database.DSN = driver, dsn
	cfg.Auth.BcryptCost = seed.BcryptCost
	cfg.Server.TrustedProxies = []string{"127.0.0.1"}
	cfg.Log.Level = "warn"
	cfg.Signing.Secret = benchSigningSecret
	return cfg
}

// benchSigningSecret seals the signing keys of the benchmark's databases,
// new for every run (PostgreSQL needs one; a SQLite file would get its own).
const benchSigningSecret = "YmVuY2htYXJrLW9ubHktc2lnbmluZy1zZWNyZXQtMzI="

// post sends one GraphQL request and returns the body; an answer other
// than 200 without errors is an error.
func post(url, token, query string, vars map[string]any) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(string(gqlBody(query, vars))))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(req)
}

func get(url, token string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(req)
}

func do(req *http.Request) ([]byte, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || strings.Contains(string(b), `"errors":`) {
		return b, fmt.Errorf("%s %s: %d %.300s", req.Method, req.URL.Path, res.StatusCode, b)
	}
	return b, nil
}

// Statements is how many SQL statements Gatehouse sends for one request
// of each read workload (a repeated request: the session's touch, once a
// minute, is not counted).
type Statements struct {
	W1     int64 `json:"W1"`
	W2     int64 `json:"W2"`
	W2Deep int64 `json:"W2_deep"`
	W4     int64 `json:"W4"`
}

func countStatements(ctx context.Context, driver, dsn string, d *seed.Data) (Statements, error) {
	p, err := startInProcess(ctx, driver, dsn)
	if err != nil {
		return Statements{}, err
	}
	defer p.close()
	var out Statements
	for _, c := range []struct {
		n     *int64
		token string
		query string
		vars  map[string]any
	}{
		{&out.W1, d.Tokens[0], queryW1, nil},
		{&out.W2, d.AdminToken, queryW2, map[string]any{"after": nil}},
		{&out.W2Deep, d.AdminToken, queryW2, map[string]any{"after": d.DeepCursor}},
		{&out.W4, d.Tokens[0], queryW4, map[string]any{"f": seed.AccessFeature}},
	} {
		if _, err := post(p.url, c.token, c.query, c.vars); err != nil {
			return out, err
		}
		before := p.statements.Load()
		if _, err := post(p.url, c.token, c.query, c.vars); err != nil {
			return out, err
		}
		*c.n = p.statements.Load() - before
	}
	return out, nil
}
