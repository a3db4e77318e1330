// Package apptest starts a real Gatehouse (fresh database, real HTTP
// server) for tests, with helpers to sign in and send GraphQL requests.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/config"
	"gatehouse/internal/dashboard"
	"gatehouse/internal/db"
	"gatehouse/internal/logging"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// Server is a running Gatehouse.
type Server struct {
	t   testing.TB
	URL string
	App *app.App
	// Logs holds everything the server logged.
	Logs *SyncBuffer
}

// Config returns the configuration tests start from: defaults with the
// cheapest bcrypt cost the configuration allows. (Servers that Start and
// StartOn run hash with bcrypt.MinCost all the same: see StartOn.)
func Config() config.Config {
	cfg := config.Default()
	cfg.Auth.BcryptCost = 10
	// PostgreSQL needs a signing secret (SQLite in memory makes its own).
	cfg.Signing.Secret = TestSigningSecret
	return cfg
}

// TestSigningSecret is the signing secret of the servers tests start: for
// tests only.
const TestSigningSecret = "dGVzdC1vbmx5LXNpZ25pbmctc2VjcmV0LTMyLWJ5dGU="

// Start starts a server; adjust, when non-nil, changes the config first.
func Start(t testing.TB, adjust func(*config.Config), o app.Options) *Server {
	t.Helper()
	return StartOn(t, testdb.Open(t), adjust, o)
}

// StartOn starts a server over an open, migrated database. Its passwords
// are hashed with bcrypt.MinCost unless o.TestBcryptCost says otherwise:
// the configured cost (at least 10) makes every sign-in take tens of
// milliseconds, and suites sign in hundreds of times.
func StartOn(t testing.TB, d *db.DB, adjust func(*config.Config), o app.Options) *Server {
	t.Helper()
	cfg := Config()
	if adjust != nil {
		adjust(&cfg)
	}
	if o.TestBcryptCost == 0 {
		o.TestBcryptCost = bcrypt.MinCost
	}
	logs := &SyncBuffer{}
	log, err := logging.New(logs, "text", "debug")
	if err != nil {
		t.Fatal(err)
	}
	o.Migrate = false // testdb migrated it
	a, err := app.Assemble(context.Background(), cfg, d, log, o)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	ts := httptest.NewServer(a.Handler)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &Server{t: t, URL: ts.URL, App: a, Logs: logs}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CreateUser makes a user directly (as the console operator would).
func (s *Server) CreateUser(username, password string, role user.Role) *ent.User {
	s.t.Helper()
	u, err := s.App.Service.CreateUser(viewer.System(context.Background()), service.CreateUserInput{
		Username: username, Password: password, Role: &role,
	})
	if err != nil {
		s.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// Code is the first error's extensions.code, or "".
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Decode unmarshals data into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// Do sends a GraphQL request with an optional bearer token.
func (s *Server) Do(token, query string, vars map[string]any) *Response {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("graphql request: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &Response{Status: res.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		s.t.Fatalf("graphql response %d %q: %v", res.StatusCode, raw, err)
	}
	return out
}

// MustDo is Do that fails the test on any error.
func (s *Server) MustDo(token, query string, vars map[string]any) *Response {
	s.t.Helper()
	r := s.Do(token, query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("graphql %q: %+v", strings.TrimSpace(query), r.Errors)
	}
	return r
}

// LoginMutation is the document Login sends.
const LoginMutation = `mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`

// Login signs in through the API and returns the token.
func (s *Server) Login(username, password string) string {
	s.t.Helper()
	r := s.MustDo("", LoginMutation, map[string]any{"u": username, "p": password})
	var d struct{ Login struct{ Token string } }
	r.Decode(s.t, &d)
	return d.Login.Token
}

// Dashboard is the app.DashboardFactory of the binary: the admin dashboard
// over the assembled Gatehouse.
func Dashboard(a *app.App) (http.Handler, error) {
	return dashboard.New(dashboard.Deps{
		Config: a.Config.Dashboard, DB: a.DB, Service: a.Service, Auth: a.Auth, Logger: a.Logger,
	})
}
