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
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
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
	cp := &checkpointer{conn: c, stop: make(chan struct{})}
	cp.done.Add(1)
	go cp.run(interval)
	return cp, nil
}

func (cp *checkpointer) run(interval time.Duration) {
	defer cp.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-cp.stop:
			return
		case <-t.C:
			// PASSIVE copies what no reader still needs and waits for
			// nobody; the writer goes on appending meanwhile. Its errors
			// (a busy database) only mean "later".
			_, _ = cp.conn.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// Close stops the checkpoints and closes their connection.
func (cp *checkpointer) Close() error {
	var err error
	cp.once.Do(func() {
		close(cp.stop)
		cp.done.Wait()
		err = cp.conn.Close()
	})
	return err
}
