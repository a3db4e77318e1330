package main

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/bench/internal/floor"
	"gatehouse/bench/internal/seed"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// benchDB seeds a small data set into a fresh database: a SQLite file, or
// a new PostgreSQL database when GATEHOUSE_TEST_POSTGRES is set.
func benchDB(t *testing.T) (driver, dsn string, d *seed.Data) {
	t.Helper()
	ctx := context.Background()
	driver, dsn = db.SQLite, filepath.Join(t.TempDir(), "bench.db")
	if admin := os.Getenv(testdb.EnvPostgres); admin != "" {
		driver = db.Postgres
		name := "gh_bench_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())) + time.Now().Format("150405")
		var err error
		if dsn, err = createPostgres(ctx, admin, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := dropPostgres(admin, name); err != nil {
				t.Logf("drop %s: %v", name, err)
			}
		})
	}
	d, err := seed.Seed(ctx, seed.Options{Driver: driver, DSN: dsn, Users: 30, Packages: 4, Contents: 3,
		Assignments: 60, Sessions: 90, Tokens: 12})
	if err != nil {
		if strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Skip("SQLite needs cgo:", err)
		}
		t.Fatal(err)
	}
	return driver, dsn, d
}

// TestFloorAnswersAsGatehouse seeds a small data set, serves it with
// Gatehouse and with the floor, checks that both give the same data for
// W1 and W4 for every token (the floor is an honest yardstick), and runs
// a second of W1 and W4 against each without an error.
func TestFloorAnswersAsGatehouse(t *testing.T) {
	ctx := context.Background()
	driver, dsn, data := benchDB(t)

	gh, err := startInProcess(ctx, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.close()
	fdb, err := floor.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func(d *sql.DB) { d.Close() }(fdb)
	fl := httptest.NewServer(floor.New(fdb, driver))
	defer fl.Close()

	if err := sameAnswers(gh.url, fl.URL, data.Tokens); err != nil {
		t.Fatal(err)
	}

	for _, s := range []server{{name: "gatehouse", url: gh.url}, {name: "floor", url: fl.URL}} {
		for _, a := range []attackSpec{
			{workload: "W1", srv: s, tr: w1Targets(s, data), conns: 4, duration: 500 * time.Millisecond},
			{workload: "W4", srv: s, tr: w4Targets(s, data), conns: 4, duration: 500 * time.Millisecond},
		} {
			got := run(ctx, a)
			if got.Requests == 0 || got.Errors > 0 {
				t.Errorf("%s against %s: %d requests, %d errors (%s)", a.workload, s.name, got.Requests, got.Errors, got.FirstError)
			}
		}
	}
}

// TestStatementsAndWorkloadsAnswer checks that the workloads the run
// sends only to Gatehouse (W2 on both pages, W3's login, W5's
// assignPackage) are answered without errors, and that the statement
// count of each read is measured.
func TestStatementsAndWorkloadsAnswer(t *testing.T) {
	ctx := context.Background()
	driver, dsn, data := benchDB(t)
	st, err := countStatements(ctx, driver, dsn, data)
	if err != nil {
		t.Fatal(err)
	}
	if st.W1 == 0 || st.W2 == 0 || st.W2Deep == 0 || st.W4 == 0 {
		t.Fatalf("statements not counted: %+v", st)
	}
	t.Logf("SQL statements per request: %+v", st)
	gh, err := startInProcess(ctx, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.close()
	s := server{name: "gatehouse", url: gh.url}
	for _, a := range []attackSpec{
		{workload: "W2", srv: s, tr: w2Targets(s, data, ""), conns: 2, duration: 300 * time.Millisecond},
		{workload: "W2-deep", srv: s, tr: w2Targets(s, data, data.DeepCursor), conns: 2, duration: 300 * time.Millisecond},
		{workload: "W3", srv: s, tr: w3Targets(s, data), conns: 2, duration: 300 * time.Millisecond},
		{workload: "W5", srv: s, tr: w5Targets(s, data), conns: 2, duration: 300 * time.Millisecond},
	} {
		got := run(ctx, a)
		if got.Requests == 0 || got.Errors > 0 {
			t.Errorf("%s: %d requests, %d errors (%s)", a.workload, got.Requests, got.Errors, got.FirstError)
		}
	}
}
