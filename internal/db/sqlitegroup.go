package db

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"sync"

	entsql "entgo.io/ent/dialect/sql"
)

// Group commit. A COMMIT on SQLite costs a write transaction more than
// its statements do: it appends every page the transaction changed to
// the write-ahead log, each in two writes, under the one write lock. So
// write transactions that queue for their turn share one: each is a
// member of a group, a savepoint in the group's SQLite transaction, and
// the group commits once, when no write waits for its turn any longer
// (or when maxGroup members have joined). A member's Commit returns once
// the group has committed, with the group's outcome: a change is only
// ever reported written once it is, and a page that several members
// change (the end of the event log, an index's) is written once.
//
// A member that rolls back rolls back to its savepoint (the group's first
// member, which has none, rolls the group back): the others keep their
// changes. A member that commits while others wait leaves the group
// open, gives up its turn and queues for it again: whichever member first
// takes the turn again with the group still open commits it, so a group
// never stays open with nobody to end it. Writes outside a transaction,
// turns taken with DB.WriteTurn and transactions with options end the
// open group before they run.
//
// Member statements run under a context that cannot be cancelled (a
// context that ends is checked before each statement): the driver
// interrupts a cancelled statement, and SQLite may answer an interrupted
// write in a transaction by rolling back the whole transaction, the other
// members' changes with it.

// maxGroup is the most members a group takes before it commits.
const maxGroup = 64

// group is a SQLite transaction shared by write transactions in turn.
type group struct {
	tx  *entsql.Tx
	sql *stdsql.Tx
	// n counts the members that began in the group, kept those whose
	// changes it holds.
	n, kept int
	// lost is set when the transaction is no longer whole (a savepoint
	// that could not be released or rolled back to): the group then rolls
	// back and every member kept in it fails.
	lost error
	// err is the group's outcome, set before ended ends.
	err   error
	ended context.Context
	end   context.CancelFunc
}

// joinGroup returns the open group, or a new one when none is open or the
// open one is full. The caller holds the turn.
func (q *writeQueue) joinGroup() (*group, error) {
	if g := q.group; g != nil {
		if g.n < maxGroup {
			return g, nil
		}
		q.endGroup(g)
	}
	// The group's transaction outlives any one member's request.
	tx, err := q.Driver.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	etx := tx.(*entsql.Tx)
	st, ok := etx.Conn.ExecQuerier.(*stdsql.Tx)
	if !ok {
		_ = etx.Rollback()
		return nil, fmt.Errorf("sqlite: unexpected transaction %T", etx.Conn.ExecQuerier)
	}
	g := &group{tx: etx, sql: st}
	g.ended, g.end = context.WithCancel(context.Background())
	q.group = g
	return g, nil
}

// endGroup commits g (or rolls it back when it keeps nobody's changes or
// was lost) and tells its members. The caller holds the turn.
func (q *writeQueue) endGroup(g *group) {
	switch {
	case g.lost != nil:
		_ = g.tx.Rollback()
		g.err = fmt.Errorf("sqlite: the write transaction was lost, none of its changes were written: %w", g.lost)
	case g.kept == 0:
		g.err = g.tx.Rollback()
	default:
		if g.err = g.tx.Commit(); g.err == nil {
			q.commits.Add(1)
			q.committedWrites.Add(int64(g.kept))
		}
	}
	if q.group == g {
		q.group = nil
	}
	g.end()
}

// awaitGroup waits until g has ended, ending it itself if it gets the
// turn first, and returns its outcome.
func (q *writeQueue) awaitGroup(g *group) error {
	for {
		release, err := q.turns.Take(g.ended)
		if err == nil {
			if q.group == g {
				q.endGroup(g)
			}
			release()
			break
		}
		if g.ended.Err() != nil {
			break
		}
		// The busy timeout passed with the group still open: wait on.
	}
	return g.err
}

// member is a write transaction in a group.
type member struct {
	q       *writeQueue
	g       *group
	tx      *entsql.Tx
	ctx     context.Context
	release func()
	stop    func() bool
	// savepoint tells that the member's changes begin at a savepoint
	// (every member but the group's first).
	savepoint bool
	// mu is held by each statement and by the end of the transaction;
	// done tells that it has ended.
	mu   sync.Mutex
	done bool
}

// Commit keeps the member's changes in its group and returns once the
// group has committed (at once when nobody waits to write).
func (m *member) Commit() error {
	m.mu.Lock()
	if m.done {
		m.mu.Unlock()
		return stdsql.ErrTxDone
	}
	m.done = true
	m.stop()
	if err := m.ctx.Err(); err != nil {
		// As database/sql does: a transaction whose context ended rolls
		// back (even before abandon, run on its own, has come to it).
		_ = m.rollback()
		m.release()
		m.mu.Unlock()
		return err
	}
	q, g := m.q, m.g
	if g.lost == nil && m.savepoint {
		if _, err := g.sql.ExecContext(context.Background(), "RELEASE member"); err != nil {
			g.lost = err
		}
	}
	if g.lost != nil {
		q.endGroup(g)
		m.release()
		m.mu.Unlock()
		return g.err
	}
	g.kept++
	if g.n >= maxGroup || q.turns.Waiting() == 0 {
		q.endGroup(g)
		m.release()
		m.mu.Unlock()
		return g.err
	}
	m.release()
	m.mu.Unlock()
	return q.awaitGroup(g)
}

// Rollback rolls the member's changes back; the group goes on.
func (m *member) Rollback() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return stdsql.ErrTxDone
	}
	m.done = true
	m.stop()
	err := m.rollback()
	m.release()
	return err
}

// abandon rolls back a member whose context ended before it did.
func (m *member) abandon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	m.done = true
	_ = m.rollback()
	m.release()
}

// rollback undoes the member's changes and ends the group when nobody's
// changes are left in it, or when it was lost. The caller holds m.mu and
// the turn.
func (m *member) rollback() error {
	g := m.g
	if g.lost == nil && m.savepoint {
		if _, err := g.sql.ExecContext(context.Background(), "ROLLBACK TO member"); err != nil {
			g.lost = err
		} else if _, err := g.sql.ExecContext(context.Background(), "RELEASE member"); err != nil {
			g.lost = err
		}
	}
	if g.kept == 0 || g.lost != nil {
		// (A group's first member ends here, its changes undone by the
		// group's rollback. Members kept in a lost group learn it from
		// endGroup.)
		m.q.endGroup(g)
	}
	return g.lost
}

// memberConn runs a member's statements in its group's transaction.
type memberConn member

// usable tells why the member cannot run a statement now, if it cannot.
func (c *memberConn) usable(ctx context.Context) error {
	if c.done {
		return stdsql.ErrTxDone
	}
	if c.g.lost != nil {
		return fmt.Errorf("sqlite: the write transaction was lost: %w", c.g.lost)
	}
	return ctx.Err()
}

// ExecContext runs a statement of the member's.
func (c *memberConn) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return nil, err
	}
	return c.g.sql.ExecContext(context.WithoutCancel(ctx), query, args...)
}

// QueryContext runs a query of the member's.
func (c *memberConn) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return nil, err
	}
	return c.g.sql.QueryContext(context.WithoutCancel(ctx), query, args...)
}
