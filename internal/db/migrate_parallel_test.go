package db_test

import (
	"context"
	"sync"
	"testing"

	"gatehouse/internal/db"
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
