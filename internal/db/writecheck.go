package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// WriteCheckInterval is how long a verdict of CheckWrites is reused: a
// load balancer asking /readyz every second costs one small write per
// interval and process, not one per request.
const WriteCheckInterval = 5 * time.Second

// minFreeBytes is the free space below which a SQLite database's file
// system counts as full: SQLite reuses its write-ahead log in place, so a
// small write can still succeed on a full disk while any write that grows
// the database fails.
const minFreeBytes = 256 << 10

// writeProbeTable has one row whose timestamp CheckWrites rewrites.
const writeProbeTable = "gatehouse_write_probe"

// writeCheck is the cached verdict of CheckWrites.
type writeCheck struct {
	mu     sync.Mutex
	every  time.Duration
	custom bool
	at     time.Time // when reason was found; zero before the first check
	reason string
}

// WriteStatus is the verdict of CheckWrites.
type WriteStatus struct {
	// Reason is "" when the database takes writes, else a short reason
	// safe to show to anyone ("disk full", "read-only"): never driver
	// text, SQL or a path.
	Reason string
	// Err is the error behind a new Reason, for the log; nil when the
	// verdict was reused or the write succeeded.
	Err error
	// Changed says the verdict differs from the previous one (log it once).
	Changed bool
}

// SetWriteCheckInterval changes how long CheckWrites reuses a verdict
// (WriteCheckInterval by default; 0 checks every time).
func (d *DB) SetWriteCheckInterval(every time.Duration) {
	d.writes.mu.Lock()
	defer d.writes.mu.Unlock()
	d.writes.every, d.writes.custom = every, true
}

// CheckWrites reports whether the database can take writes, by writing
// the probe row's timestamp (and, on SQLite, checking that the database
// has room to grow). The verdict is reused for WriteCheckInterval, and
// concurrent callers share one check. A check that times out or finds the
// database busy keeps the previous verdict: busy is not broken.
func (d *DB) CheckWrites(ctx context.Context) WriteStatus {
	w := &d.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	every := WriteCheckInterval
	if w.custom {
		every = w.every
	}
	if !w.at.IsZero() && time.Since(w.at) < every {
		return WriteStatus{Reason: w.reason}
	}
	reason, err := d.probeWrites(ctx)
	w.at = time.Now()
	if reason == reasonBusy {
		return WriteStatus{Reason: w.reason}
	}
	changed := reason != w.reason
	w.reason = reason
	return WriteStatus{Reason: reason, Err: err, Changed: changed}
}

// reasonBusy is WriteFailure's answer for a write that waited too long
// or lost a lock: the database is busy, not broken.
const reasonBusy = "busy"

func (d *DB) probeWrites(ctx context.Context) (string, error) {
	q := `INSERT INTO ` + writeProbeTable + ` (id, written_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at`
	// On SQLite the probe writes in its turn, on the writer, whose
	// settings (max_page_count) it checks first.
	release, err := d.WriteTurn(ctx)
	if err != nil {
		return WriteFailure(err), err
	}
	defer release()
	if d.Driver == Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	} else if reason, err := d.sqliteRoom(ctx); reason != "" {
		return reason, err
	}
	if _, err := d.SQL.ExecContext(ctx, q, time.Now().UnixNano()); err != nil {
		return WriteFailure(err), err
	}
	return "", nil
}

// sqliteRoom returns a reason when a SQLite database cannot grow: its
// file system is (nearly) full, or it has (nearly) reached max_page_count.
// Checks that cannot be made are skipped.
func (d *DB) sqliteRoom(ctx context.Context) (string, error) {
	var file string
	if err := d.SQL.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err == nil && file != "" {
		if free, ok := freeBytes(filepath.Dir(file)); ok && free < minFreeBytes {
			return "disk full", fmt.Errorf("%d bytes left on the file system of %s", free, filepath.Dir(file))
		}
	}
	var pages, maxPages, freePages int64
	for _, p := range []struct {
		pragma string
		dst    *int64
	}{{"page_count", &pages}, {"max_page_count", &maxPages}, {"freelist_count", &freePages}} {
		if err := d.SQL.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dst); err != nil {
			return "", nil
		}
	}
	// A write may need several new pages: a handful left is full.
	if maxPages > 0 && maxPages-pages+freePages < 16 {
		return "database full (max_page_count reached)", fmt.Errorf("%d pages of max_page_count %d used, %d free", pages, maxPages, freePages)
	}
	return "", nil
}

// WriteFailure classifies an error from a database write into a short
// reason safe to show to anyone: "disk full", "read-only", "I/O error",
// ... It never returns the driver's text, which may hold paths or SQL.
func WriteFailure(err error) string {
	if reason, ok := sqliteFailure(err); ok {
		return reason
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "25006": // read_only_sql_transaction
			return "read-only"
		case pe.Code == "53100": // disk_full
			return "disk full"
		case pe.Code == "53200": // out_of_memory
			return "out of memory"
		case pe.Code == "53300": // too_many_connections
			return "too many connections"
		case pe.Code == "42P01": // undefined_table
			return "schema is not current"
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", pe.Code == "57014":
			return reasonBusy
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"):
			return "database unreachable"
		case pe.Code == "42501": // insufficient_privilege
			return "permission denied"
		}
		return "write failed (SQLSTATE " + pe.Code + ")"
	}
	if errors.Is(err, errWriteBusy) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return reasonBusy
	}
	return "write failed"
}
