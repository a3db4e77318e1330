package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// openWriters opens a migrated file SQLite database with a busy timeout.
func openWriters(t *testing.T, busy time.Duration) *db.DB {
	t.Helper()
	if testdb.Postgres() {
		t.Skip("SQLite's write lock")
	}
	d, err := db.Open(context.Background(), db.Options{
		Driver: db.SQLite, DSN: filepath.Join(t.TempDir(), "gatehouse.db"), BusyTimeout: busy,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// Many writers at once, each transaction holding the write lock a while
// (as a request slowed by other work does): every one succeeds, and none
// is lost, although the busy timeout is far shorter than all the writes
// together. In SQLite's busy handler, waiters that sleep through the
// releases gave up with "database is locked".
func TestParallelWriteTransactionsOnSQLiteFile(t *testing.T) {
	const (
		writers = 24
		each    = 8
		hold    = 5 * time.Millisecond
	)
	d := openWriters(t, time.Second)
	ctx := viewer.System(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				errs <- write(ctx, d, fmt.Sprintf("writer:%d:%d", w, i), hold)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("write: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d write transactions failed", failed, writers*each)
	}
	n, err := d.Ent.LoginThrottle.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("%d rows, want %d", n, writers*each)
	}
}

// write inserts a row in a transaction that holds the lock for hold.
func write(ctx context.Context, d *db.DB, key string, hold time.Duration) error {
	tx, err := d.Ent.Tx(ctx)
	if err != nil {
		return err
	}
	if err := tx.LoginThrottle.Create().SetKey(key).SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
		_ = tx.Rollback()
		return err
	}
	time.Sleep(hold)
	return tx.Commit()
}

// Writes outside a transaction (single statements, INSERT … RETURNING)
// queue with the transactions.
func TestParallelWritesMixedOnSQLiteFile(t *testing.T) {
	d := openWriters(t, time.Second)
	ctx := viewer.System(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				key := fmt.Sprintf("single:%d:%d", w, i)
				if w%2 == 0 {
					errs <- write(ctx, d, key, 5*time.Millisecond)
					continue
				}
				if err := d.Ent.LoginThrottle.Create().SetKey(key).SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
					errs <- err
					continue
				}
				_, err := d.Ent.LoginThrottle.Update().Where().SetFailures(i).Save(ctx)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

// A writer waiting for its turn gives up when its context ends, and the
// turn passes on; so does a writer that waited the whole busy timeout.
func TestWriteQueueWaitEnds(t *testing.T) {
	d := openWriters(t, 200*time.Millisecond)
	ctx := viewer.System(context.Background())
	holder, err := d.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := d.Ent.Tx(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("busy timeout", func(t *testing.T) {
		_, err := d.Ent.Tx(ctx)
		if err == nil || !strings.Contains(err.Error(), "busy") {
			t.Fatalf("got %v, want the database busy", err)
		}
	})
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := write(ctx, d, "after", 0); err != nil {
		t.Fatalf("write after the holder committed: %v", err)
	}
}

// A transaction abandoned when its context ends (database/sql rolls it
// back) gives the turn back.
func TestWriteQueueTurnEndsWithContext(t *testing.T) {
	d := openWriters(t, 5*time.Second)
	ctx := viewer.System(context.Background())
	cctx, cancel := context.WithCancel(ctx)
	tx, err := d.Ent.Tx(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.LoginThrottle.Create().SetKey("abandoned").SetWindowStartedAt(time.Now()).Exec(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	wctx, stop := context.WithTimeout(ctx, 4*time.Second)
	defer stop()
	if err := write(wctx, d, "next", 0); err != nil {
		t.Fatalf("write after an abandoned transaction: %v", err)
	}
	if n, err := d.Ent.LoginThrottle.Query().Count(ctx); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want only the later write", n, err)
	}
	_ = tx.Rollback()
}
