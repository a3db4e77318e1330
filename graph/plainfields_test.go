package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/graph"
	"gatehouse/graph/generated"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// plainProbe records whether the last operation's fields took their short
// path (generated.NoFieldMiddleware, see graph/gqlgen/plain.go and
// direct.go).
type plainProbe struct{ plain atomic.Bool }

func (*plainProbe) ExtensionName() string                   { return "PlainProbe" }
func (*plainProbe) Validate(graphql.ExecutableSchema) error { return nil }
func (p *plainProbe) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p.plain.Store(generated.NoFieldMiddleware(oc))
	return nil
}

// api is a /graphql handler built as the server builds it, serving one
// viewer without touching their session between requests.
type api struct {
	t     *testing.T
	url   string
	probe *plainProbe
}

// newAPI serves graph.NewHandler over s's database as the holder of
// token; adjust may add to the handler before it serves.
func newAPI(t *testing.T, s *apptest.Server, token string, adjust func(*handler.Server)) *api {
	t.Helper()
	v, u, err := s.App.Auth.AuthenticateUser(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	h := graph.NewHandler(&graph.Resolver{Client: s.App.DB.Ent, Auth: s.App.Auth, Service: s.App.Service},
		graph.Options{Introspection: true, MaxComplexity: 100000, MaxDepth: 20})
	srv := h.(*handler.Server)
	if adjust != nil {
		adjust(srv)
	}
	a := &api{t: t, probe: &plainProbe{}}
	srv.Use(a.probe)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithUser(viewer.NewContext(r.Context(), v), u)))
	}))
	t.Cleanup(ts.Close)
	a.url = ts.URL
	return a
}

// post answers query with vars: the status, the body as sent, and whether
// the plain fields took their short path.
func (a *api) post(query string, vars map[string]any) (int, []byte, bool) {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	res, err := http.Post(a.url, "application/json", bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return res.StatusCode, raw, a.probe.plain.Load()
}

// withFieldMiddleware installs a field middleware that only calls the
// resolver: gqlgen then resolves every field its own way.
func withFieldMiddleware(srv *handler.Server) {
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) })
}

// plainQueries read every kind of plain field (IDs, strings, ints, booleans,
// enums, times, cursors, and their nullable pointer forms, null or not)
// under aliases, fragments, inline fragments on objects and interfaces,
// @skip/@include, __typename and fields selected twice, next to fields
// with resolvers and edges.
var plainQueries = []struct {
	name, as, query string
	vars            map[string]any
}{
	{"users", "root", `query Users($n: Int!, $yes: Boolean!, $no: Boolean!) {
  users(first: $n) {
    __typename totalCount
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
    edges { __typename cursor c2: cursor node { ...U } }
  }
}
fragment U on User {
  __typename id createdAt updatedAt username role disabled lastLoginAt
  name: username again: id username
  ... on User { role disabled @include(if: $yes) createdAt @skip(if: $yes) updatedAt @skip(if: $no) }
  ... on Node { id __typename }
  packages {
    __typename id createdAt updatedAt userID packageID startsAt expiresAt suspendedAt suspendReason state active
    ends: expiresAt
    package {
      id name detail days trial graceDays
      contents {
        id name packageID featureID limit l: limit
        feature { id key name description kind createdAt updatedAt k: key }
      }
    }
  }
  sessions { id userID createdAt lastSeenAt expiresAt maxExpiresAt revokedAt ip userAgent active current }
  activeFeatures { key name kind limit expiresAt inGrace }
}`, map[string]any{"n": 20, "yes": true, "no": false}},
	{"nodes", "root", `query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on User { username lastLoginAt createdAt }
    ... on Package { name days trial contents { limit } }
    ... on UserPackage { startsAt expiresAt suspendedAt suspendReason }
    ... on Feature { key kind updatedAt }
    ... on PackageContent { name limit }
  }
}`, nil},
	{"connections", "root", `{
  features(first: 10) { totalCount edges { cursor node { id key name kind description createdAt updatedAt } } }
  packages(first: 10) { totalCount pageInfo { startCursor endCursor hasNextPage } edges { node { id name detail days graceDays trial contents { id limit feature { key } } } } }
  userSessions(first: 50) { edges { node { id ip userAgent revokedAt active } } }
}`, nil},
	{"me", "alice", `{
  me { id username role disabled lastLoginAt packages { expiresAt state package { name contents { name limit feature { key kind } } } } sessions { id active current revokedAt } activeFeatures { key limit expiresAt inGrace } }
  p: checkAccess(feature: "projects") { feature granted code limit expiresAt startsAt graceUntil }
  m: checkAccess(feature: "moe_gatherer") { feature granted code limit expiresAt startsAt graceUntil }
  x: checkAccess(feature: "nope") { feature granted code }
}`, nil},
	{"errors", "alice", `{ users(first: 5) { totalCount } me { username legacy: createdAt } }`, nil},
}

// TestPlainFieldsAnswerAsGqlgen holds the short paths graph/gqlgen writes
// (plain.go, direct.go, objects.go) to gqlgen's own: the same queries,
// answered by the API's handler and by one with a field middleware (which
// makes every field and object take gqlgen's path: ResolveField, FieldSet,
// CollectFields), give the same bytes, errors and their paths included.
// (The scalar marshallers both use are held to gqlgen's by
// graph/generated's TestScalarsWriteAsGqlgen.) Zero times in non-null fields (a user's createdAt, a
// feature's updatedAt) make gqlgen report a null where the schema allows
// none, and null the object up to the nearest nullable place.
func TestPlainFieldsAnswerAsGqlgen(t *testing.T) {
	w := newWorld(t, nil)
	svc := w.App.Service
	limit, two := 5, 2
	projects, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Projects", Days: 3, GraceDays: &two, Contents: []*service.PackageContentInput{
		{Name: "Projects", FeatureKey: "projects", Limit: &limit},
		{Name: "Gatherer", FeatureKey: "moe_gatherer"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	up, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: w.alice.ID, PackageID: projects.ID})
	if err != nil {
		t.Fatal(err)
	}
	reason := `paused "for now"` + "\n\t\\ é"
	if _, err := svc.SuspendUserPackage(sys(), w.bobUP.ID, &reason); err != nil {
		t.Fatal(err)
	}
	// zed has a zero createdAt, and holds a package whose feature has a
	// zero updatedAt.
	zed := w.CreateUser("zed", "zed-password", user.RoleUSER)
	legacy, err := svc.CreateFeature(sys(), service.CreateFeatureInput{Key: "legacy", Name: "Legacy", Kind: feature.KindSWITCH})
	if err != nil {
		t.Fatal(err)
	}
	old, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Old", Days: 9, Contents: []*service.PackageContentInput{{Name: "Legacy", FeatureKey: "legacy"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: zed.ID, PackageID: old.ID}); err != nil {
		t.Fatal(err)
	}
	aliceTok := w.token("alice", alicePW)
	w.token("bob", bobPW)
	zero := "UPDATE %s SET %s = '0001-01-01 00:00:00+00:00' WHERE id = ?"
	if w.App.DB.Driver == "postgres" {
		zero = strings.ReplaceAll(zero, "?", "$1")
	}
	for _, u := range []struct {
		table, column string
		id            int
	}{{"users", "created_at", zed.ID}, {"features", "updated_at", legacy.ID}, {"users", "created_at", w.alice.ID}} {
		if _, err := w.App.DB.SQL.Exec(strings.Replace(strings.Replace(zero, "%s", u.table, 1), "%s", u.column, 1), u.id); err != nil {
			t.Fatal(err)
		}
	}

	tokens := map[string]string{"root": w.token("root", adminPW), "alice": aliceTok}
	ids := []any{id(w.alice.ID), id(zed.ID), id(w.pro.ID), id(up.ID), id(w.bobUP.ID), id(legacy.ID), id(old.ID)}
	for _, q := range plainQueries {
		t.Run(q.name, func(t *testing.T) {
			plain := newAPI(t, w.Server, tokens[q.as], nil)
			reference := newAPI(t, w.Server, tokens[q.as], withFieldMiddleware)
			vars := q.vars
			if q.name == "nodes" {
				vars = map[string]any{"ids": ids}
			}
			gotStatus, got, short := plain.post(q.query, vars)
			wantStatus, want, slow := reference.post(q.query, vars)
			if !short || slow {
				t.Fatalf("short path taken: %v by the API's handler (want true), %v with a field middleware (want false)", short, slow)
			}
			if gotStatus != wantStatus || !bytes.Equal(sortedErrors(t, got), sortedErrors(t, want)) {
				t.Fatalf("the API answers %d\n%s\ngqlgen's own path answers %d\n%s", gotStatus, got, wantStatus, want)
			}
			var r struct {
				Data   map[string]any
				Errors []struct {
					Message string
					Path    []any
				}
			}
			if err := json.Unmarshal(got, &r); err != nil {
				t.Fatal(err)
			}
			// The zero times are reported where they are, with their paths.
			switch q.name {
			case "users", "nodes", "connections":
				if len(r.Data) == 0 {
					t.Fatalf("no data: %s", got)
				}
				fallthrough
			case "errors":
				if len(r.Errors) == 0 {
					t.Fatalf("no error for the zero times: %s", got)
				}
				for _, e := range r.Errors {
					last, _ := e.Path[len(e.Path)-1].(string)
					if last != "createdAt" && last != "updatedAt" && last != "legacy" && !(q.name == "errors" && last == "users") {
						t.Errorf("error %q at %v, want at a zero time", e.Message, e.Path)
					}
				}
			default:
				if len(r.Data) == 0 || len(r.Errors) > 0 {
					t.Fatalf("errors: %s", got)
				}
			}
		})
	}
}

// TestPlainFieldsOnlyWithoutFieldMiddleware checks when plain fields take
// their short path: on queries through the API's handler (a field
// middleware added to graph.NewHandler would turn it off everywhere: this
// test then fails, so that it is not done unawares), never on mutations
// (whose answers graph's signedInAnswers resolves as the user who signed
// in), never once a field middleware is installed.
func TestPlainFieldsOnlyWithoutFieldMiddleware(t *testing.T) {
	w := newWorld(t, nil)
	tok := w.token("root", adminPW)
	const login = `mutation { login(input: {username: "alice", password: "alice-password"}) { token expiresAt user { username createdAt } session { id active } } }`
	for _, c := range []struct {
		name   string
		adjust func(*handler.Server)
		query  string
		want   bool
	}{
		{"query", nil, `{ users(first: 1) { totalCount edges { node { username } } } }`, true},
		{"mutation", nil, login, false},
		{"query with a field middleware", withFieldMiddleware, `{ users(first: 1) { totalCount } }`, false},
		{"mutation with a field middleware", withFieldMiddleware, login, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(t, w.Server, tok, c.adjust)
			status, body, plain := a.post(c.query, nil)
			if status != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
				t.Fatalf("%d %s", status, body)
			}
			if plain != c.want {
				t.Fatalf("short path taken: %v, want %v", plain, c.want)
			}
		})
	}
}

// sortedErrors is answer with its errors sorted: Query's fields resolve
// side by side, so their errors come in either order, on either path. The
// rest of the answer is kept byte for byte.
func sortedErrors(t *testing.T, answer []byte) []byte {
	t.Helper()
	var a struct {
		Errors     []json.RawMessage `json:"errors"`
		Data       json.RawMessage   `json:"data"`
		Extensions json.RawMessage   `json:"extensions,omitempty"`
	}
	if err := json.Unmarshal(answer, &a); err != nil || len(a.Errors) < 2 {
		return answer
	}
	slices.SortFunc(a.Errors, func(x, y json.RawMessage) int { return bytes.Compare(x, y) })
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
