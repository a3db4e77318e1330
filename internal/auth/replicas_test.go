package auth_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// TestParallelLoginsAcrossReplicas: two servers over one database take 20
// wrong passwords and the right one at the same moment, through HTTP. At
// most max_failures wrong passwords are compared in all: the database, not
// the replica, decides.
func TestParallelLoginsAcrossReplicas(t *testing.T) {
	opts := db.Options{Driver: db.SQLite, DSN: filepath.Join(t.TempDir(), "gatehouse.db")}
	if testdb.Postgres() {
		opts = testdb.Options(t)
	}
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
	replicas[0].CreateUser("alice", "alice-password", user.RoleUSER)
	limit := replicas[0].App.Config.Throttle.MaxFailures

	var compared atomic.Int32
	defer auth.OnCompare(func() { compared.Add(1) })()

	const n = 20
	login := `mutation($p:String!){login(input:{username:"alice",password:$p}){token}}`
	codes := make([]string, n+1)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "wrong-password"
			if i == n {
				pw = "alice-password"
			}
			<-start
			codes[i] = replicas[i%2].Do("", login, map[string]any{"p": pw}).Code()
		}()
	}
	close(start)
	wg.Wait()

	wrong := 0
	for _, c := range codes[:n] {
		switch c {
		case "UNAUTHENTICATED":
			wrong++
		case "RATE_LIMITED":
		default:
			t.Fatalf("answer %q to a wrong password", c)
		}
	}
	right := codes[n] == ""
	if !right && codes[n] != "RATE_LIMITED" {
		t.Fatalf("answer %q to the right password", codes[n])
	}
	if wrong > limit {
		t.Fatalf("%d wrong passwords were compared across the replicas, want at most %d", wrong, limit)
	}
	want := int32(wrong)
	if right {
		want++
	}
	if got := compared.Load(); got != want {
		t.Fatalf("%d comparisons for %d refused wrong passwords and right=%v", got, wrong, right)
	}
	// Only compared wrong passwords count: the limit is reached when
	// max_failures of them were compared (else the right password, admitted
	// early, gave its place back and the rest were turned away meanwhile).
	after := replicas[1].Do("", login, map[string]any{"p": "alice-password"}).Code()
	if wrong == limit && after != "RATE_LIMITED" || wrong < limit && after != "" {
		t.Fatalf("the right password after %d compared wrong ones: %q", wrong, after)
	}
}
