package db

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/internal/turn"
)

// SQLite has one write lock per database. A connection that finds it taken
// waits in SQLite's busy handler, which sleeps and tries again (after 1 ms,
// 2 ms, 5 ms, … then every 100 ms) and gives up with "database is locked"
// when the busy timeout has passed. Under load that handler is unfair and
// wasteful: a waiter sleeping 100 ms misses the releases in between to
// whoever tries at that moment, the lock stands idle while the waiters
// sleep, and once CPU-bound work in the process (bcrypt) slows the holders
// down, an unlucky waiter keeps missing until its timeout, while others got
// through.
//
// So this process writes on a connection of its own (DB.SQL, the writer),
// and its writes queue in Go before they reach it: a transaction (every
// transaction: they read, then write), or a statement that runs outside
// one and writes, first takes a first-come first-served semaphore and
// holds it until it ends. A waiter is woken the moment the write before
// it ends, takes no connection while it waits, and gives up when its
// context ends or after the busy timeout, as it did in SQLite. Queries
// outside a transaction run on the readers (DB.Read, read-only
// connections), which WAL lets run beside the writer, and do not queue.
// SQLite's busy handler is left as it was, for writers outside this
// process. Transactions begin IMMEDIATE, with the lock: none starts
// deferred and fails to upgrade. Write transactions that queue share one
// COMMIT (sqlitegroup.go).

// errWriteBusy is returned when a write waited the whole busy timeout.
var errWriteBusy = errors.New("the database is busy with other writes")

// writeQueue is an ent driver over SQLite whose writes queue in Go and
// run on the writer, and whose other queries run on the readers.
type writeQueue struct {
	*entsql.Driver // the writer
	read           *entsql.Driver
	turns          *turn.Queue
	// group is the open group of write transactions (nil: none). Only
	// the holder of the turn reads or changes it.
	group *group
	// commits counts the group transactions committed, committedWrites the write
	// transactions they held (DB.SQLiteCommits).
	commits, committedWrites atomic.Int64
}

// queueWrites makes the ent driver of a SQLite database from its writer
// and its readers (the same driver when one connection serves both): its
// writes run one at a time, in arrival order, each waiting at most busy
// (default 5 s).
func queueWrites(writer, read *entsql.Driver, busy time.Duration) *writeQueue {
	if busy <= 0 {
		busy = 5 * time.Second
	}
	return &writeQueue{Driver: writer, read: read, turns: turn.New(1, busy)}
}

// Close closes the writer and the readers.
func (q *writeQueue) Close() error {
	err := q.Driver.Close()
	if q.read != q.Driver {
		err = errors.Join(err, q.read.Close())
	}
	return err
}

// acquire waits for the turn to write and returns the function that ends
// it (safe to call more than once).
func (q *writeQueue) acquire(ctx context.Context) (func(), error) {
	release, err := q.turns.Take(ctx)
	if errors.Is(err, turn.ErrTimeout) {
		return nil, fmt.Errorf("%w: waited %s (database.busy_timeout)", errWriteBusy, q.turns.Wait())
	}
	return release, err
}

// acquireAlone waits for the turn to write, as acquire does, and ends the
// open group: what runs in this turn uses the writer's connection outside
// the group's transaction.
func (q *writeQueue) acquireAlone(ctx context.Context) (func(), error) {
	release, err := q.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if q.group != nil {
		q.endGroup(q.group)
	}
	return release, nil
}

// Tx begins a transaction once it is this one's turn to write.
func (q *writeQueue) Tx(ctx context.Context) (dialect.Tx, error) {
	return q.BeginTx(ctx, nil)
}

// BeginTx begins a transaction once it is this one's turn to write: a
// member of the open group, or of a new one (see group). The turn ends
// with the transaction: at Commit, at Rollback, or when ctx ends (the
// transaction then rolls back). A transaction with options (read-only,
// an isolation level) runs alone.
func (q *writeQueue) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	if opts != nil && (opts.ReadOnly || opts.Isolation != stdsql.LevelDefault) {
		return q.soloTx(ctx, opts)
	}
	release, err := q.acquire(ctx)
	if err != nil {
		return nil, err
	}
	g, err := q.joinGroup()
	if err != nil {
		release()
		return nil, err
	}
	// The group's first member needs no savepoint: it holds the turn
	// until it ends, so the group holds nobody else's changes meanwhile.
	savepoint := g.n > 0
	if savepoint {
		if _, err := g.sql.ExecContext(context.WithoutCancel(ctx), "SAVEPOINT member"); err != nil {
			g.lost = err
			q.endGroup(g)
			release()
			return nil, err
		}
	}
	g.n++
	m := &member{q: q, g: g, ctx: ctx, release: release, savepoint: savepoint}
	m.tx = &entsql.Tx{Conn: g.tx.Conn, Tx: m}
	m.tx.Conn.ExecQuerier = (*memberConn)(m)
	m.stop = context.AfterFunc(ctx, m.abandon)
	return m.tx, nil
}

// soloTx begins a transaction of its own, after the open group ends.
func (q *writeQueue) soloTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	release, err := q.acquireAlone(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := q.Driver.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	stop := context.AfterFunc(ctx, release)
	return &queuedTx{Tx: tx.(*entsql.Tx), done: func() { stop(); release() }}, nil
}

// Exec runs a statement on the writer, in turn.
func (q *writeQueue) Exec(ctx context.Context, query string, args, v any) error {
	release, err := q.acquireAlone(ctx)
	if err != nil {
		return err
	}
	defer release()
	return q.Driver.Exec(ctx, query, args, v)
}

// Query runs a query on the readers, or when it writes (INSERT …
// RETURNING) on the writer in turn: the turn ends when the rows are
// closed, as SQLite's lock does.
func (q *writeQueue) Query(ctx context.Context, query string, args, v any) error {
	if !writes(query) {
		return q.read.Query(ctx, query, args, v)
	}
	release, err := q.acquireAlone(ctx)
	if err != nil {
		return err
	}
	if err := q.Driver.Query(ctx, query, args, v); err != nil {
		release()
		return err
	}
	rows, ok := v.(*entsql.Rows)
	if !ok || rows.ColumnScanner == nil {
		release()
		return nil
	}
	rows.ColumnScanner = &queuedRows{ColumnScanner: rows.ColumnScanner, done: release}
	return nil
}

// ExecContext serves ent's Client.ExecContext, on the writer in turn.
func (q *writeQueue) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	release, err := q.acquireAlone(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return q.Driver.ExecContext(ctx, query, args...)
}

// QueryContext serves ent's Client.QueryContext, for reads only, on the
// readers: the rows it returns cannot end a turn to write.
func (q *writeQueue) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	if writes(query) {
		return nil, errors.New("sqlite: run a statement that writes with Exec, Query or in a transaction")
	}
	return q.read.QueryContext(ctx, query, args...)
}

// queuedTx ends its turn to write when it ends.
type queuedTx struct {
	*entsql.Tx
	done func()
}

func (t *queuedTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *queuedTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}

// queuedRows ends its query's turn to write when closed.
type queuedRows struct {
	entsql.ColumnScanner
	done func()
}

func (r *queuedRows) Close() error {
	defer r.done()
	return r.ColumnScanner.Close()
}

// writes reports whether a query changes rows: INSERT, UPDATE, DELETE or
// REPLACE (with RETURNING). Other queries (SELECT, and WITH … SELECT)
// run on the readers; a query that a reader refuses fails there, as
// read-only, rather than write.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	for _, verb := range [...]string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
		if len(q) > len(verb) && strings.EqualFold(q[:len(verb)], verb) {
			return true
		}
	}
	return false
}
