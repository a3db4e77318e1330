package graph_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/graph"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
)

func TestLimits(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)

	t.Run("page size", func(t *testing.T) {
		for _, q := range []string{`{users(first:101){totalCount}}`, `{users(last:101){totalCount}}`, `{users(first:-1){totalCount}}`} {
			r := w.Do(admin, q, nil)
			wantCode(t, r, "BAD_USER_INPUT")
		}
		mustData(t, w.Do(admin, `{users(first:100){totalCount}}`, nil))
	})

	t.Run("nodes count", func(t *testing.T) {
		ids := make([]string, 101)
		for i := range ids {
			ids[i] = id(w.alice.ID)
		}
		wantCode(t, w.Do(admin, `query($ids:[ID!]!){nodes(ids:$ids){id}}`, map[string]any{"ids": ids}), "BAD_USER_INPUT")
	})

	t.Run("depth", func(t *testing.T) {
		deep := `{me{sessions{user{sessions{user{sessions{user{sessions{user{sessions{user{sessions{user{id}}}}}}}}}}}}}}`
		wantCode(t, w.Do(admin, deep, nil), "DEPTH_LIMIT_EXCEEDED")
		frag := `query{me{...F}} fragment F on User{sessions{user{sessions{user{sessions{user{sessions{user{sessions{user{sessions{id}}}}}}}}}}}}`
		wantCode(t, w.Do(admin, frag, nil), "DEPTH_LIMIT_EXCEEDED")
	})

	t.Run("complexity counts list sizes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < 4; i++ {
			fmt.Fprintf(&b, "u%d: users(first:100){edges{node{id username packages{id package{id name contents{id name limit feature{key}}}} sessions{id expiresAt}}}} ", i)
		}
		b.WriteString("}")
		wantCode(t, w.Do(admin, b.String(), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		mustData(t, w.Do(admin, `{users(first:100){edges{node{id username packages{id package{id name contents{id name limit feature{key}}}} sessions{id expiresAt}}}}}`, nil))
	})

	t.Run("body size", func(t *testing.T) {
		body := `{"query":"{me{id}}","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
		res, err := http.Post(w.URL+"/graphql", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("2 MiB body: status %d", res.StatusCode)
		}
	})

	t.Run("POST with JSON only", func(t *testing.T) {
		res, err := http.Get(w.URL + "/graphql?query=" + url.QueryEscape(strings.Repeat(" ", graph.MaxGetQuery)+"{me{id}}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestURITooLong {
			t.Fatalf("GET longer than %d bytes: status %d", graph.MaxGetQuery, res.StatusCode)
		}
		res, err = http.Post(w.URL+"/graphql", "application/x-www-form-urlencoded", strings.NewReader("query={me{id}}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Fatalf("form POST: status %d", res.StatusCode)
		}
	})

	t.Run("introspection and suggestions on by default", func(t *testing.T) {
		mustData(t, w.Do("", `{__schema{queryType{name}}}`, nil))
		r := w.Do(admin, `{mee{id}}`, nil)
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "Did you mean") {
			t.Fatalf("no suggestion: %+v", r.Errors)
		}
	})

	t.Run("playground", func(t *testing.T) {
		res, err := http.Get(w.URL + "/playground")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(buf.String(), "/graphql") {
			t.Fatalf("playground: %d", res.StatusCode)
		}
	})
}

func TestProductionSwitches(t *testing.T) {
	w := newWorld(t, func(c *config.Config) {
		c.GraphQL.Introspection = false
		c.GraphQL.Playground = false
	})
	for _, q := range []string{`{__schema{queryType{name}}}`, `{__type(name:"User"){name}}`, `{...Q} fragment Q on Query{__schema{queryType{name}}}`} {
		wantRefused(t, w.Do("", q, nil), "FORBIDDEN", "introspection is switched off")
	}
	mustData(t, w.Do("", `{__typename}`, nil))
	r := w.Do("", `{mee{id}}`, nil)
	if len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "Did you mean") || strings.Contains(r.Errors[0].Message, "me") && strings.Contains(r.Errors[0].Message, "\"me\"") {
		t.Fatalf("field suggestion given with introspection off: %+v", r.Errors)
	}
	res, err := http.Get(w.URL + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("playground switched off answered %d", res.StatusCode)
	}
}

// countingServer starts a server over a fresh test database whose ent
// client counts statements.
func countingServer(t *testing.T) (*apptest.Server, *atomic.Int64) {
	t.Helper()
	return countingServerOn(t, testdb.Open(t))
}

// TestPageOfUsersCostsFixedStatements reads pages of users with their
// packages, contents and sessions and checks the number of SQL statements
// does not grow with the page.
func TestPageOfUsersCostsFixedStatements(t *testing.T) {
	s, n := countingServer(t)
	s.CreateUser("root", adminPW, user.RoleADMIN)
	svc := s.App.Service
	seedFeatures(t, svc)
	pkgs := make([]*ent.Pkg, 3)
	for i := range pkgs {
		p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: fmt.Sprintf("P%d", i), Days: 10, Contents: []*service.PackageContentInput{
			{Name: "a", FeatureKey: "moe_gatherer"}, {Name: "b", FeatureKey: "cloud_sync"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		pkgs[i] = p
	}
	// Users are created directly (no bcrypt per user) to keep this quick.
	addUsers := func(from, to int) {
		for i := from; i < to; i++ {
			u := s.App.DB.Ent.User.Create().SetUsername(fmt.Sprintf("user%03d", i)).SetPasswordHash("x").SaveX(sys())
			for _, p := range pkgs[:1+i%3] {
				if _, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.App.Auth.IssueSession(sys(), u.ID, nil, "", authClient()); err != nil {
				t.Fatal(err)
			}
		}
	}
	token := s.Login("root", adminPW)
	query := `query($n:Int){users(first:$n){totalCount edges{node{id username packages{id expiresAt active package{id name contents{id name limit feature{key}}}} sessions{id active}}}}}`
	count := func(page int) int64 {
		s.MustDo(token, query, map[string]any{"n": page}) // warm: session touch, caches
		before := n.Load()
		r := s.MustDo(token, query, map[string]any{"n": page})
		var d struct{ Users struct{ Edges []any } }
		r.Decode(t, &d)
		if len(d.Users.Edges) != page {
			t.Fatalf("page of %d returned %d", page, len(d.Users.Edges))
		}
		return n.Load() - before
	}
	addUsers(0, 9)
	small := count(10)
	addUsers(9, 100)
	large := count(100)
	if small != large {
		t.Fatalf("10 users cost %d statements, 100 users %d: the count grows with the page", small, large)
	}
	if large > 10 {
		t.Fatalf("a page costs %d statements", large)
	}
	t.Logf("a page of users with packages, contents and sessions: %d statements", large)
}
