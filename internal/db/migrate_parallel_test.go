package db_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// TestMigrationsSideBySide: databases opened and migrated at once in one
// process (tests do it all the time) all get their schema. ent's migration
// sets up table descriptions that every client shares, so unserialised
// migrations could crash the process with "concurrent map writes" (now
// and then; `go test -race` reports the race every time).
func TestMigrationsSideBySide(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: ":memory:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		wg.Go(func() {
			errs[i] = d.Migrate(context.Background())
			if errs[i] == nil {
				_, errs[i] = d.Ent.Feature.Query().Count(viewer.System(context.Background()))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("database %d: %v", i, err)
		}
	}
}

// An event log made with its first four indexes, or with release 2's index
// by actor, loses them when migrated (each cost every change a page),
// keeps its events, and has its index by subject: on PostgreSQL an index
// of the table, on SQLite none (it indexes events by subject in a table of
// its own).
func TestMigrateDropsTheEventLogsFirstIndexes(t *testing.T) {
	d := testdb.Open(t)
	ctx := context.Background()
	old := map[string]string{
		"event_at":                         "at",
		"event_type_at":                    "type, at",
		"event_actor_id_at":                "actor_id, at",
		"event_subject_type_subject_id_at": "subject_type, subject_id, at",
		"event_actor_id":                   "actor_id",
	}
	for name, cols := range old {
		if _, err := d.SQL.ExecContext(ctx, "CREATE INDEX "+name+" ON events ("+cols+")"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.SQL.ExecContext(ctx, `INSERT INTO events (at, type, actor_name, actor_kind, subject_type, request_id, ip) VALUES (CURRENT_TIMESTAMP, 'user.created', '', 'CLI', 'user', '', '')`); err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got := slices.DeleteFunc(indexNames(t, d, "events"), func(n string) bool { return n == "events_pkey" })
	slices.Sort(got)
	want := []string{db.EventSubjectIndex}
	if d.Driver == db.SQLite {
		want = nil
	}
	if !slices.Equal(got, want) {
		t.Errorf("events has the indexes %q, want %q", got, want)
	}
	if n, err := d.Ent.Event.Query().Count(viewer.System(ctx)); err != nil || n != 1 {
		t.Errorf("%d events after the migration (%v), want 1", n, err)
	}
}
