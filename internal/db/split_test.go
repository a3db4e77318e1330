package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// On a SQLite file, writes have one connection of their own and queries a
// pool of connections that SQLite opened read-only: a write sent to a
// reader is refused, so nothing can write beside the writer.
func TestSQLiteReadersRefuseWrites(t *testing.T) {
	d := openWriters(t, time.Second)
	ctx := context.Background()
	if n := d.SQL.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the writer has %d connections, want 1", n)
	}
	if n := d.Read.Stats().MaxOpenConnections; n < 2 {
		t.Errorf("the readers have %d connections, want a pool", n)
	}
	_, err := d.Read.ExecContext(ctx, `INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('x', 1, '2026-01-01 00:00:00')`)
	if err == nil {
		t.Fatal("a reader took a write")
	}
	if r := db.WriteFailure(err); r != "read-only" {
		t.Errorf("write on a reader: %v (%q), want read-only", err, r)
	}
	if _, err := d.Read.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read.ExecContext(ctx, `DELETE FROM login_throttles`); db.WriteFailure(err) != "read-only" {
		t.Errorf("delete on a reader after query_only = 0: %v, want read-only", err)
	}
	// The same write on the writer lands.
	if _, err := d.SQL.ExecContext(ctx, `INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('x', 1, '2026-01-01 00:00:00')`); err != nil {
		t.Fatalf("write on the writer: %v", err)
	}
}

// While a write transaction is open, queries outside it are answered from
// the readers (WAL), without waiting for it, and see the database as it
// was before the transaction until it commits.
func TestSQLiteReadsWhileWriteTransactionIsOpen(t *testing.T) {
	d := openWriters(t, time.Second)
	ctx := viewer.System(context.Background())
	if err := write(ctx, d, "before", 0); err != nil {
		t.Fatal(err)
	}
	tx, err := d.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	if err := tx.LoginThrottle.Create().SetKey("inside").SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// A deadline only so that a read that waits for the writer fails
	// instead of hanging: it must not wait at all.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range 20 {
		keys, err := d.Ent.LoginThrottle.Query().Select("key").Strings(rctx)
		if err != nil {
			t.Fatalf("read %d while a write transaction is open: %v", i, err)
		}
		if strings.Join(keys, ",") != "before" {
			t.Fatalf("read %d while a write transaction is open: %v, want only the committed row", i, keys)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	n, err := d.Ent.LoginThrottle.Query().Count(ctx)
	if err != nil || n != 2 {
		t.Fatalf("after the commit: %d rows (%v), want 2", n, err)
	}
}

// A statement run on the writer outside ent (the dashboard's sessions,
// the readiness probe) takes its turn with ent's writes: while a
// transaction holds the turn it waits, and gives up after the busy
// timeout as a queued ent write does.
func TestSQLiteWriteTurnQueuesWithEnt(t *testing.T) {
	d := openWriters(t, 100*time.Millisecond)
	ctx := viewer.System(context.Background())
	tx, err := d.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteTurn(ctx); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("turn while a transaction holds it: %v, want busy", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	release, err := d.WriteTurn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL.ExecContext(ctx, `INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('raw', 1, '2026-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	// The turn is held: an ent write waits, then gives up.
	if err := write(ctx, d, "ent", 0); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("ent write while the turn is held: %v, want busy", err)
	}
	release()
	release() // a second call does nothing
	for i := range 3 {
		if err := write(ctx, d, fmt.Sprintf("ent-%d", i), 0); err != nil {
			t.Fatalf("ent write after the turn: %v", err)
		}
	}
}

// With no pool size set (max_open_conns = 0), a SQLite file gets two
// readers per CPU, at least 4, beside its one writer; one that is set is
// kept as given.
func TestSQLiteReadersBySize(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  int
		want int
	}{
		{"automatic", 0, max(4, 2*runtime.GOMAXPROCS(0))},
		{"set", 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: filepath.Join(t.TempDir(), "g.db"), MaxOpenConns: tc.set})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			if n := d.Read.Stats().MaxOpenConnections; n != tc.want {
				t.Errorf("readers: %d connections, want %d", n, tc.want)
			}
			if n := d.SQL.Stats().MaxOpenConnections; n != 1 {
				t.Errorf("writer: %d connections, want 1", n)
			}
		})
	}
	if n := db.DefaultMaxOpenConns(db.Postgres); n != 10 {
		t.Errorf("PostgreSQL's automatic pool: %d, want 10", n)
	}
}
