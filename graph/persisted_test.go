package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"gatehouse/ent/pkg"
	"gatehouse/graph"
	"gatehouse/graph/generated"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/persisted"
)

const namedMe = `query Me { me { username } }`

// apq sends a POST with a persisted query's hash and, unless empty, its
// text.
func apq(t *testing.T, s *apptest.Server, token, hash, query string) *apptest.Response {
	t.Helper()
	body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return answer(t, req)
}

// get sends a GET /graphql with the given parameters.
func get(t *testing.T, s *apptest.Server, token string, params url.Values) (*apptest.Response, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+params.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &apptest.Response{Status: res.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET answer %d %q: %v", res.StatusCode, raw, err)
	}
	return out, res.Header
}

func answer(t *testing.T, req *http.Request) *apptest.Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &apptest.Response{Status: res.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("answer %d %q: %v", res.StatusCode, raw, err)
	}
	return out
}

func wantUsername(t *testing.T, r *apptest.Response, want string) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var d struct{ Me struct{ Username string } }
	r.Decode(t, &d)
	if d.Me.Username != want {
		t.Fatalf("me: %s, want %s", r.Data, want)
	}
}

func extensions(hash string) string {
	b, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}})
	return string(b)
}

// Automatic persisted queries (Apollo's protocol) and queries by GET.
func TestPersistedQueriesAndGET(t *testing.T) {
	w := newWorld(t, nil)
	tok := w.token("alice", alicePW)
	hash := persisted.Hash(namedMe)

	t.Run("automatic persisted query", func(t *testing.T) {
		if r := apq(t, w.Server, tok, hash, ""); r.Code() != graph.CodePersistedQueryNotFound {
			t.Fatalf("an unknown hash: %+v", r.Errors)
		}
		wantUsername(t, apq(t, w.Server, tok, hash, namedMe), "alice")
		wantUsername(t, apq(t, w.Server, tok, hash, ""), "alice")
		if r := apq(t, w.Server, tok, persisted.Hash("{ me { id } }"), namedMe); len(r.Errors) == 0 {
			t.Fatal("a query with another query's hash was run")
		}
	})
	t.Run("GET", func(t *testing.T) {
		r, h := get(t, w.Server, tok, url.Values{"query": {namedMe}})
		wantUsername(t, r, "alice")
		if cc := h.Get("Cache-Control"); cc != "private, no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		// By hash alone, once the server knows it.
		r, _ = get(t, w.Server, tok, url.Values{"extensions": {extensions(hash)}})
		wantUsername(t, r, "alice")
		if r, _ := get(t, w.Server, tok, url.Values{"query": {namedMe}, "variables": {"[1]"}}); r.Status != http.StatusBadRequest || r.Code() != graph.CodeBadRequest {
			t.Fatalf("variables that are no object: %d %+v", r.Status, r.Errors)
		}
		// Without a token: the same as POST.
		if r, _ := get(t, w.Server, "", url.Values{"query": {namedMe}}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("without a token: %+v", r.Errors)
		}
	})
	t.Run("GET never runs a mutation", func(t *testing.T) {
		admin := w.token("root", adminPW)
		r, _ := get(t, w.Server, admin, url.Values{"query": {`mutation { createPackage(input: {name: "ViaGet", days: 1}) { id } }`}})
		if r.Status != http.StatusMethodNotAllowed || r.Code() != graph.CodeBadRequest {
			t.Fatalf("a mutation by GET answered %d %+v, want 405 %s", r.Status, r.Errors, graph.CodeBadRequest)
		}
		if n := w.App.DB.Ent.Pkg.Query().Where(pkg.Name("ViaGet")).CountX(sys()); n != 0 {
			t.Fatal("a mutation sent by GET created a package")
		}
	})
}

// With graphql.persisted_only, only queries registered in the database
// run (on every replica), by hash or in full; clients register nothing.
func TestPersistedOnly(t *testing.T) {
	only := func(c *config.Config) { c.GraphQL.PersistedOnly = true }
	w := newWorld(t, only)
	other := apptest.StartOn(t, w.App.DB, only, app.Options{})
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	reg := persisted.NewRegistry(w.App.DB.Ent)
	// Every operation must be registered, signing in too.
	if _, err := reg.Add(sys(), s, apptest.LoginMutation); err != nil {
		t.Fatal(err)
	}
	tok := w.token("alice", alicePW)
	hash := persisted.Hash(namedMe)

	if r := w.Do(tok, namedMe, nil); r.Code() != persisted.CodeRequired {
		t.Fatalf("an unregistered query: %+v", r.Errors)
	}
	if r := apq(t, w.Server, tok, hash, namedMe); r.Code() != persisted.CodeRequired {
		t.Fatalf("an automatic registration: %+v", r.Errors)
	}
	if r := apq(t, w.Server, tok, hash, ""); r.Code() != graph.CodePersistedQueryNotFound {
		t.Fatalf("the hash a client tried to register: %+v", r.Errors)
	}

	if _, err := reg.Add(sys(), s, `query Broken { me { nosuchfield } }`); err == nil {
		t.Fatal("a query that does not validate was registered")
	}
	a, err := reg.Add(sys(), s, namedMe)
	if err != nil || !a.New || a.Hash != hash || a.Name != "Me" {
		t.Fatalf("registered %+v, %v", a, err)
	}
	if again, err := reg.Add(sys(), s, namedMe); err != nil || again.New {
		t.Fatalf("registered again: %+v, %v", again, err)
	}

	for name, srv := range map[string]*apptest.Server{"this replica": w.Server, "another replica": other} {
		t.Run(name, func(t *testing.T) {
			wantUsername(t, apq(t, srv, tok, hash, ""), "alice")
			r, _ := get(t, srv, tok, url.Values{"extensions": {extensions(hash)}})
			wantUsername(t, r, "alice")
			wantUsername(t, srv.Do(tok, namedMe, nil), "alice")
			if r := srv.Do(tok, namedMe+" ", nil); r.Code() != persisted.CodeRequired {
				t.Fatalf("a registered query's text changed: %+v", r.Errors)
			}
		})
	}
}
