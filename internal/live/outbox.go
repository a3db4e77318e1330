package live

import (
	"context"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/internal/events"
)

// Channel is the PostgreSQL channel notices travel on.
const Channel = "gatehouse_live"

// outbox turns the events of a transaction into one notice, told to the
// subscribers only once the transaction has committed: on PostgreSQL by
// pg_notify in the transaction (which PostgreSQL delivers at commit, to
// every replica listening), on SQLite by the hub of this process after
// the commit returned. A change that rolls back tells nobody.
type outbox struct {
	h       *Hub
	mu      sync.Mutex
	pending map[*ent.Tx]*Notice
	// The hooks every transaction with a notice gets, made once.
	commitHook   ent.CommitHook
	rollbackHook ent.RollbackHook
}

func newOutbox(h *Hub) *outbox {
	o := &outbox{h: h, pending: map[*ent.Tx]*Notice{}}
	o.commitHook, o.rollbackHook = o.onCommit, o.onRollback
	return o
}

// Enqueue adds who e may concern to its transaction's notice. It reads
// nothing: rows stand for their owners until a process with
// subscriptions looks them up.
func (o *outbox) Enqueue(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
	var n Notice
	if concerns(e, &n); n.empty() {
		return nil
	}
	n.addType(e.Type)
	o.mu.Lock()
	p, ok := o.pending[tx]
	if ok {
		p.merge(&n)
	} else {
		o.pending[tx] = &n
	}
	o.mu.Unlock()
	if !ok {
		tx.OnCommit(o.commitHook)
		tx.OnRollback(o.rollbackHook)
	}
	return nil
}

func (o *outbox) onRollback(next ent.Rollbacker) ent.Rollbacker {
	return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
		o.take(tx)
		return next.Rollback(ctx, tx)
	})
}

func (o *outbox) take(tx *ent.Tx) *Notice {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.pending[tx]
	delete(o.pending, tx)
	return n
}

func (o *outbox) onCommit(next ent.Committer) ent.Committer {
	return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
		n := o.take(tx)
		if n == nil {
			return next.Commit(ctx, tx)
		}
		if tx.Client().Dialect() == dialect.Postgres {
			// Delivered by PostgreSQL at commit, and only then.
			for _, payload := range n.split(MaxPayload) {
				if err := tx.Client().ReadRows(ctx, "SELECT pg_notify($1, $2)", []any{Channel, string(payload)},
					func(*sql.Rows) error { return nil }); err != nil {
					return err
				}
			}
			return next.Commit(ctx, tx)
		}
		if err := next.Commit(ctx, tx); err != nil {
			return err
		}
		o.h.deliver(n)
		return nil
	})
}

// concerns adds to n whom event e may concern: a user, a package, or the
// row that stands for them.
func concerns(e *ent.Event, n *Notice) {
	if e.SubjectID == nil {
		return
	}
	id := *e.SubjectID
	verb := e.Type[strings.LastIndexByte(e.Type, '.')+1:]
	switch e.SubjectType {
	case events.SubjectUser:
		switch verb {
		case "updated", "deleted":
			n.addUser(id)
		}
	case events.SubjectSession:
		switch verb {
		case "deleted":
			if u, ok := fromChange(e, "userID"); ok {
				n.addUser(u)
			}
		case "revoked", "updated":
			n.Sessions = addInt(n.Sessions, id)
		}
	case events.SubjectUserPackage:
		if verb == "deleted" {
			if u, ok := fromChange(e, "userID"); ok {
				n.addUser(u)
			}
			return
		}
		n.Assignments = addInt(n.Assignments, id)
	case events.SubjectPackage:
		if verb == "updated" {
			n.addPackage(id)
		}
	case events.SubjectPackageContent:
		if verb == "deleted" {
			if p, ok := fromChange(e, "packageID"); ok {
				n.addPackage(p)
			}
			return
		}
		n.Contents = addInt(n.Contents, id)
	case events.SubjectFeature:
		if verb == "updated" {
			n.Features = addInt(n.Features, id)
		}
	}
}

// fromChange reads an id an event's changes hold as the old value of
// field (a deleted row's owner).
func fromChange(e *ent.Event, field string) (int, bool) {
	c, ok := e.Changes[field]
	if !ok {
		return 0, false
	}
	switch v := c.From.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	}
	return 0, false
}
