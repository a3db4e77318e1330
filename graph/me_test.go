package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
)

// stmtLog records the SQL statements a server's ent client runs.
type stmtLog struct {
	mu   sync.Mutex
	list []string
}

func (l *stmtLog) add(_ context.Context, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, fmt.Sprint(v...))
}

// mark returns a function that returns the statements run since mark.
func (l *stmtLog) mark() func() []string {
	l.mu.Lock()
	from := len(l.list)
	l.mu.Unlock()
	return func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return append([]string(nil), l.list[from:]...)
	}
}

// loggingServer starts a server whose ent client logs every statement.
func loggingServer(t *testing.T) (*apptest.Server, *stmtLog) {
	t.Helper()
	d := testdb.Open(t)
	l := &stmtLog{}
	name := dialect.SQLite
	if d.Driver == "postgres" {
		name = dialect.Postgres
	}
	d.Ent = ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(name, d.SQL), l.add)))
	return apptest.StartOn(t, d, nil, app.Options{}), l
}

// meFull reads every field of a user's tree that a user may read, with
// aliases and fragments, except UserSession.current (which differs between
// a user's own request and an admin's).
const meFull = `fragment U on User { id username role disabled lastLoginAt createdAt updatedAt
  packages { id startsAt expiresAt suspendedAt suspendReason state active createdAt updatedAt
    user { id username }
    package { id name detail days trial graceDays createdAt updatedAt
      contents { id name limit createdAt updatedAt package { id name } feature { id key name description kind createdAt updatedAt } }
      again: contents { id feature { key } } } }
  mine: packages { id package { ... on Package { name } } }
  sessions { id createdAt lastSeenAt expiresAt maxExpiresAt revokedAt ip userAgent active user { id username } }
  s2: sessions { id }
  activeFeatures { key name kind limit expiresAt inGrace } }`

// seedVaried gives username assignments in every state (active, in grace,
// suspended, not started, expired), with a LIMIT feature granted twice at
// different limits and a feature granted only in grace, and three sessions
// (one revoked); it returns a token of theirs.
func seedVaried(t *testing.T, s *apptest.Server, username string) (string, *ent.User) {
	t.Helper()
	svc := s.App.Service
	pw := username + "-password"
	u := s.CreateUser(username, pw, user.RoleUSER)
	now := time.Now()
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	n := func(v int) *int { return &v }
	type assign struct {
		grace    int
		starts   *time.Time
		days     int
		suspend  bool
		contents []*service.PackageContentInput
	}
	for i, a := range []assign{
		{days: 30, contents: []*service.PackageContentInput{{Name: "g", FeatureKey: "moe_gatherer"}, {Name: "p", FeatureKey: "projects", Limit: n(5)}}},
		{grace: 5, starts: at(-12 * 24 * time.Hour), days: 10, contents: []*service.PackageContentInput{{Name: "p", FeatureKey: "projects", Limit: n(50)}, {Name: "ps", FeatureKey: "priority_support"}}},
		{days: 30, suspend: true, contents: []*service.PackageContentInput{{Name: "a", FeatureKey: "auto_gather"}}},
		{starts: at(3 * 24 * time.Hour), days: 10, contents: []*service.PackageContentInput{{Name: "s", FeatureKey: "cloud_sync"}}},
		{starts: at(-40 * 24 * time.Hour), days: 10, contents: []*service.PackageContentInput{{Name: "s", FeatureKey: "cloud_sync"}, {Name: "p", FeatureKey: "projects", Limit: n(99)}}},
		{days: 7},
	} {
		p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: fmt.Sprintf("%s-%d", username, i), Days: a.days, GraceDays: &a.grace, Contents: a.contents})
		if err != nil {
			t.Fatal(err)
		}
		up, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, StartsAt: a.starts, Days: &a.days})
		if err != nil {
			t.Fatal(err)
		}
		if a.suspend {
			reason := "unpaid"
			if _, err := svc.SuspendUserPackage(sys(), up.ID, &reason); err != nil {
				t.Fatal(err)
			}
		}
	}
	revoked := s.Login(username, pw)
	if _, err := s.App.Auth.RevokeSession(sys(), sessionOf(t, s, revoked)); err != nil {
		t.Fatal(err)
	}
	s.Login(username, pw)
	return s.Login(username, pw), u
}

func sessionOf(t *testing.T, s *apptest.Server, token string) int {
	t.Helper()
	v, err := s.App.Auth.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return v.SessionID
}

// canonical decodes a JSON answer and orders every list of objects with
// ids by id (PostgreSQL returns unordered reads in any order).
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
			sort.SliceStable(x, func(i, j int) bool {
				a, _ := x[i].(map[string]any)
				b, _ := x[j].(map[string]any)
				ai, _ := a["id"].(string)
				bi, _ := b["id"].(string)
				if len(ai) != len(bi) {
					return len(ai) < len(bi)
				}
				return ai < bi
			})
		}
	}
	walk(v)
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// TestMeAnswersAsBefore holds `me`, read in a few hand-written statements,
// to the same user read by an admin through user(id:), whose edges are read
// one by one through the privacy rules and whose active features are
// worked out in SQL. Another user's data never shows.
func TestMeAnswersAsBefore(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	seedFeatures(t, s.App.Service)
	s.CreateUser("root", adminPW, user.RoleADMIN)
	aliceTok, alice := seedVaried(t, s, "alice")
	_, bob := seedVaried(t, s, "bob")
	admin := s.Login("root", adminPW)

	mine := s.MustDo(aliceTok, `{me{...U}} `+meFull, nil)
	var got struct{ Me json.RawMessage }
	mine.Decode(t, &got)
	theirs := s.MustDo(admin, `query($id:ID!){user(id:$id){...U}} `+meFull, map[string]any{"id": id(alice.ID)})
	var want struct{ User json.RawMessage }
	theirs.Decode(t, &want)
	if g, w := canonical(t, got.Me), canonical(t, want.User); g != w {
		t.Fatalf("me answers\n%s\nan admin reading the same user answers\n%s", g, w)
	}

	// The answer is alice's: her packages, sessions and active features
	// in every state, and nothing of bob's.
	var me struct {
		ID       string
		Packages []struct {
			State string
			User  struct{ ID string }
		}
		Sessions []struct {
			Active bool
			User   struct{ ID string }
		}
		ActiveFeatures []struct {
			Key     string
			Limit   *int
			InGrace bool
		}
	}
	if err := json.Unmarshal(got.Me, &me); err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, p := range me.Packages {
		states[p.State]++
		if p.User.ID != id(alice.ID) {
			t.Fatalf("an assignment of user %s in alice's me", p.User.ID)
		}
	}
	if len(states) != 5 || states["ACTIVE"] != 2 {
		t.Fatalf("states %v, want all five (two active)", states)
	}
	inactive := 0
	for _, ss := range me.Sessions {
		if ss.User.ID != id(alice.ID) {
			t.Fatalf("a session of user %s in alice's me", ss.User.ID)
		}
		if !ss.Active {
			inactive++
		}
	}
	if len(me.Sessions) != 3 || inactive != 1 {
		t.Fatalf("sessions %+v, want three, one revoked", me.Sessions)
	}
	var keys []string
	for _, f := range me.ActiveFeatures {
		keys = append(keys, fmt.Sprintf("%s:%v:%v", f.Key, deref(f.Limit), f.InGrace))
	}
	if w := "moe_gatherer:-:false priority_support:-:true projects:5:false"; strings.Join(keys, " ") != w {
		t.Fatalf("active features %v, want %s", keys, w)
	}
	if strings.Contains(string(got.Me), "bob") || strings.Contains(string(got.Me), `"id":"`+id(bob.ID)+`"`) {
		t.Fatalf("bob shows in alice's me: %s", got.Me)
	}
}

func deref(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

// TestMeStatements counts the SQL statements of `me`, session lookup
// included: at most four whatever the selection (and fewer when it asks
// for less), and a fixed two for checkAccess. The session's use is
// written once per TouchInterval, not on every request.
func TestMeStatements(t *testing.T) {
	s, l := loggingServer(t)
	seedFeatures(t, s.App.Service)
	tok, _ := seedVaried(t, s, "alice")
	clock := time.Now()
	s.App.Auth.SetClock(func() time.Time { return clock })
	cases := []struct {
		name, query string
		want        int
	}{
		{"W1 selection", meQuery, 4},
		{"every field, aliases and fragments", `{me{...U}} ` + meFull, 4},
		{"two mes", `{a: me{...U} b: me{packages{id}}} ` + meFull, 5},
		{"active features only", `{me{activeFeatures{key}}}`, 3},
		{"packages without contents", `{me{packages{id package{name}}}}`, 2},
		{"sessions only", `{me{sessions{id}}}`, 2},
		{"the user only", `{me{username}}`, 1},
		{"checkAccess", `{checkAccess(feature: "projects"){granted code limit expiresAt}}`, 2},
		{"checkAccess of an unknown key", `{checkAccess(feature: "nope"){code}}`, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			since := l.mark()
			s.MustDo(tok, c.query, nil)
			if got := since(); len(got) != c.want {
				t.Fatalf("%d statements, want %d:\n%s", len(got), c.want, strings.Join(got, "\n"))
			}
		})
	}
	t.Run("touch once per interval", func(t *testing.T) {
		writes := func(q []string) (n int) {
			for _, s := range q {
				if strings.Contains(s, "UPDATE") {
					n++
				}
			}
			return n
		}
		clock = clock.Add(s.App.Auth.Config().TouchInterval)
		since := l.mark()
		s.MustDo(tok, meQuery, nil)
		s.MustDo(tok, meQuery, nil)
		clock = clock.Add(s.App.Auth.Config().TouchInterval / 2)
		s.MustDo(tok, meQuery, nil)
		// The touch is ent's update of one row: the schema's period check
		// reads the old created_at, and the update re-reads the row.
		got := since()
		statements := 0
		for _, q := range got {
			if strings.Contains(q, "query=") {
				statements++
			}
		}
		if writes(got) != 1 || statements != 3*4+3 {
			t.Fatalf("three requests, the first a touch interval after the last write: %d statements, %d writes, want 15 and 1:\n%s",
				statements, writes(got), strings.Join(got, "\n"))
		}
	})
}
