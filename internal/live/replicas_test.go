package live_test

import (
	"context"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// TestTwoReplicas: two servers over one PostgreSQL database; alice
// subscribes on B, and an assignment made through A reaches her (NOTIFY
// on commit, LISTEN on every replica). On SQLite one process serves, and
// the other tests cover it.
func TestTwoReplicas(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("needs PostgreSQL (set " + testdb.EnvPostgres + "): on SQLite notices stay in one process")
	}
	t.Parallel()
	opts := testdb.Options(t)
	var replicas []*apptest.Server
	for i := range 2 {
		d, err := db.Open(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if i == 0 {
			if err := d.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		replicas = append(replicas, apptest.StartOn(t, d, nil, app.Options{}))
	}
	a, b := replicas[0], replicas[1]
	w := setUp(t, a)

	c := dialWS(t, b.URL, w.token, nil)
	c.subscribe()
	if e := c.next(); e.Data == nil || e.Data.AccessChanged.Reason != "subscribed" {
		t.Fatalf("first message on B: %+v", e)
	}
	// Through A's API, as an admin would.
	a.CreateUser("root", "root-password", "ADMIN")
	root := a.Login("root", "root-password")
	a.MustDo(root, `mutation($u: ID!, $p: ID!) { assignPackage(input: {userID: $u, packageID: $p}) { id } }`,
		map[string]any{"u": w.userID, "p": w.pro})
	e := c.next()
	if got := strings.Join(e.keys(), ","); got != "export" || e.Data.AccessChanged.Reason != "user_package.assigned" {
		t.Fatalf("on B after assigning on A: %+v", e.Data)
	}
	if n := b.App.Live.Count(); n != 1 {
		t.Fatalf("B holds %d subscriptions, want 1", n)
	}

	// Revoking on A ends the stream on B.
	a.MustDo(w.token, `mutation { logout }`, nil)
	if e := c.next(); e.code() != "UNAUTHENTICATED" {
		t.Fatalf("on B after logout on A: %+v", e)
	}
}
