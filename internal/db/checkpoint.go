package db

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// A SQLite file in WAL mode copies what the write-ahead log holds back
// into the database from time to time (a checkpoint). SQLite does it on
// the connection that commits, once the log passes 1,000 pages: that
// write then waits for the copy and the fsyncs, holding the one write
// lock. Gatehouse checkpoints on a connection of its own instead, in the
// background, so writes only append to the log; the writer's own
// checkpoint stays, at a larger size, as a bound should the background
// fall behind.

// checkpointEvery is how often the background checkpoint runs.
const checkpointEvery = 200 * time.Millisecond

// writerAutoCheckpoint is the log size (in pages) at which the writer
// checkpoints by itself.
const writerAutoCheckpoint = 10_000

// checkpointer checkpoints a SQLite file in the background.
type checkpointer struct {
	conn *sql.DB
	bg   *every
}

// startCheckpointer opens a connection on dsn (the writer's) and
// checkpoints every interval until stopped.
func startCheckpointer(ctx context.Context, dsn string, interval time.Duration) (*checkpointer, error) {
	c, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxLifetime(0)
	if err := ping(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	// This connection never checkpoints on a commit of its own (it
	// commits nothing), and it waits for no lock: a checkpoint that
	// cannot go on now goes on at the next tick.
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		c.Close()
		return nil, err
	}
	cp := &checkpointer{conn: c}
	cp.bg = runEvery(interval, func(ctx context.Context) {
		// PASSIVE copies what no reader still needs and waits for
		// nobody; the writer goes on appending meanwhile. Its errors
		// (a busy database) only mean "later".
		_, _ = cp.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	})
	return cp, nil
}

// Close stops the checkpoints and closes their connection.
func (cp *checkpointer) Close() error {
	if cp.bg.Close() {
		return cp.conn.Close()
	}
	return nil
}

// every runs a function at an interval in the background until closed.
type every struct {
	stop   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
	once   sync.Once
}

// runEvery calls fn every interval, with a context that ends on Close.
func runEvery(interval time.Duration, fn func(context.Context)) *every {
	ctx, cancel := context.WithCancel(context.Background())
	e := &every{stop: make(chan struct{}), cancel: cancel}
	e.done.Add(1)
	go func() {
		defer e.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	return e
}

// Close stops the calls, ending one under way and waiting for it; it
// reports whether this call closed e (false when it was closed already).
func (e *every) Close() bool {
	closed := false
	e.once.Do(func() {
		close(e.stop)
		e.cancel()
		e.done.Wait()
		closed = true
	})
	return closed
}
