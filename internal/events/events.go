// Package events is Gatehouse's event log: the one function that records
// a change (who did what to which object, from where) in the change's own
// transaction, the outboxes fed in that same transaction, and the pruning
// of old events. Every mutation path calls Record; nothing else writes the
// events table (the ent schema refuses any other write).
package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/predicate"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/internal/db"
	"gatehouse/internal/events/change"
	"gatehouse/internal/events/mark"
	"gatehouse/internal/logging"
	"gatehouse/internal/viewer"
)

// Actor kinds.
const (
	KindUser   = event.ActorKindUSER
	KindAdmin  = event.ActorKindADMIN
	KindCLI    = event.ActorKindCLI
	KindSystem = event.ActorKindSYSTEM
)

// Subject types.
const (
	SubjectUser            = "user"
	SubjectPackage         = "package"
	SubjectFeature         = "feature"
	SubjectPackageContent  = "package_content"
	SubjectUserPackage     = "user_package"
	SubjectSession         = "session"
	SubjectWebhookEndpoint = "webhook_endpoint"
)

// Redacted is the only value a secret ever has in an event's changes.
const Redacted = change.Redacted

// Outbox is fed every event in the event's transaction (webhook
// deliveries, live updates). An error rolls the change back.
type Outbox interface {
	Enqueue(ctx context.Context, tx *ent.Tx, e *ent.Event) error
}

// OutboxFunc is an Outbox in a function.
type OutboxFunc func(ctx context.Context, tx *ent.Tx, e *ent.Event) error

// Enqueue calls f.
func (f OutboxFunc) Enqueue(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
	return f(ctx, tx, e)
}

// Recorder records events. Configure it (outboxes, client address) before
// serving; it is then safe for concurrent use.
type Recorder struct {
	insertOnce sync.Once
	insertSQL  string
	outboxes   []Outbox
	clientIP   func(context.Context) string
	now        func() time.Time
}

// New returns a Recorder; clientIP tells the client's address from a
// request's context (nil: none).
func New(clientIP func(context.Context) string) *Recorder {
	return &Recorder{clientIP: clientIP, now: schema.Now}
}

// AddOutbox adds an outbox every event is fed to. Call it before serving.
func (r *Recorder) AddOutbox(o Outbox) { r.outboxes = append(r.outboxes, o) }

// SetClock replaces the clock (for tests).
func (r *Recorder) SetClock(now func() time.Time) { r.now = now }

// Entry is what a mutation path tells about its change. The actor, the
// time, the request id and the client address come from the context.
type Entry struct {
	Type        string
	SubjectType string
	// SubjectID is the subject's id; 0 for none.
	SubjectID int
	// Changes holds the fields that changed; nil for none.
	Changes change.Set
	// Actor, when set, is who acted instead of the context's viewer (a
	// sign-in attempt names the user it claims to be).
	Actor *Actor
}

// Actor is who acted.
type Actor struct {
	ID   *int
	Name string
	Kind event.ActorKind
}

type cliKey struct{}

// CLI returns ctx whose changes are recorded as made at the command line.
func CLI(ctx context.Context) context.Context { return context.WithValue(ctx, cliKey{}, true) }

// Record writes the event of a change in the change's transaction tx and
// feeds it to the outboxes. A failure returns an error, and the caller's
// transaction must then roll back (it does, returning the error).
func (r *Recorder) Record(ctx context.Context, tx *ent.Tx, e Entry) (*ent.Event, error) {
	if !recording {
		return &ent.Event{Type: e.Type, SubjectType: e.SubjectType}, nil
	}
	a, err := r.actor(ctx, tx, e.Actor)
	if err != nil {
		return nil, err
	}
	ip := ""
	if r.clientIP != nil {
		ip = truncate(r.clientIP(ctx), schema.SessionIPMaxLen)
	}
	if e.Type == "" || len(e.Type) > schema.EventTypeMaxLen || len(e.SubjectType) > schema.EventTypeMaxLen {
		return nil, fmt.Errorf("event type %q or subject type %q: empty or too long", e.Type, e.SubjectType)
	}
	ev := &ent.Event{
		At:          r.now(),
		Type:        e.Type,
		ActorID:     a.ID,
		ActorName:   truncate(a.Name, schema.EventActorNameMaxLen),
		ActorKind:   a.Kind,
		SubjectType: e.SubjectType,
		RequestID:   truncate(logging.RequestID(ctx), schema.EventRequestIDMaxLen),
		IP:          ip,
	}
	var actorID, subjectID, changes any
	if a.ID != nil {
		actorID = *a.ID
	}
	if e.SubjectID != 0 {
		ev.SubjectID = &e.SubjectID
		subjectID = e.SubjectID
	}
	if len(e.Changes) > 0 {
		ev.Changes = e.Changes
		b, err := change.Marshal(e.Changes)
		if err != nil {
			return nil, err
		}
		changes = b
	}
	args := []any{ev.At, ev.Type, actorID, ev.ActorName, string(ev.ActorKind), ev.SubjectType, subjectID, changes, ev.RequestID, ev.IP}
	if ev.ID, err = r.insert(ctx, tx.Client(), args); err != nil {
		return nil, err
	}
	for _, o := range r.outboxes {
		if err := o.Enqueue(ctx, tx, ev); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// insert inserts an event row and returns its id. The event log inserts
// its rows itself, past ent (whose schema refuses to create events): one
// prepared statement, written once, without ent's builders, so that the
// row costs a change as little as it can.
//
// On SQLite the statement is an Exec and the id its rowid: RETURNING, read
// as rows, cost the row about 10 µs more there. (Like every statement of a
// write transaction on SQLite, it runs under a context that cannot be
// cancelled: see internal/db/sqlitegroup.go.) The table has no
// AUTOINCREMENT there (internal/db/eventids.go), so the statement numbers
// the row itself: see db.NextEventIDSQLite.
func (r *Recorder) insert(ctx context.Context, c *ent.Client, args []any) (int, error) {
	d := c.Dialect()
	r.insertOnce.Do(func() {
		cols := []string{
			event.FieldAt, event.FieldType, event.FieldActorID, event.FieldActorName, event.FieldActorKind,
			event.FieldSubjectType, event.FieldSubjectID, event.FieldChanges, event.FieldRequestID, event.FieldIP,
		}
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = ""
		}
		if d != dialect.Postgres {
			cols = append([]string{event.FieldID}, cols...)
			vals = append([]any{sql.Raw(db.NextEventIDSQLite)}, vals...)
		}
		ins := sql.Dialect(d).Insert(event.Table).Columns(cols...).Values(vals...)
		if d == dialect.Postgres {
			ins.Returning(event.FieldID)
		}
		r.insertSQL, _ = ins.Query()
	})
	if d != dialect.Postgres {
		res, err := c.ExecRaw(ctx, r.insertSQL, args)
		if err != nil {
			return 0, err
		}
		id, err := res.LastInsertId()
		return int(id), err
	}
	var id int
	err := c.ReadRows(ctx, r.insertSQL, args, func(rows *sql.Rows) error {
		if !rows.Next() {
			return errors.New("insert event: no id returned")
		}
		return rows.Scan(&id)
	})
	return id, err
}

// RecordAlone records an event that comes with no change (a refused
// sign-in) in a transaction of its own.
func (r *Recorder) RecordAlone(ctx context.Context, client *ent.Client, e Entry) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	if _, err := r.Record(ctx, tx, e); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// actor is who acts in ctx: the command line, the viewer (an admin, or a
// user acting on their own things), or the server itself.
func (r *Recorder) actor(ctx context.Context, tx *ent.Tx, given *Actor) (Actor, error) {
	if given != nil {
		return *given, nil
	}
	if cli, _ := ctx.Value(cliKey{}).(bool); cli {
		return Actor{Kind: KindCLI}, nil
	}
	v := viewer.FromContext(ctx)
	if v == nil {
		return Actor{Kind: KindSystem}, nil
	}
	kind := KindUser
	if v.IsAdmin() {
		kind = KindAdmin
	}
	id := v.UserID
	name := v.Username
	if name == "" {
		// The viewer's name at this moment, read in the change's
		// transaction (the viewer may read their own user).
		var err error
		name, err = tx.User.Query().Where(user.ID(id)).Select(user.FieldUsername).String(viewer.System(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return Actor{}, err
		}
	}
	return Actor{ID: &id, Name: name, Kind: kind}, nil
}

// PruneBatch deletes at most limit of the events recorded before before,
// oldest first, and returns how many: a pruning in batches never holds the
// writer long.
func (r *Recorder) PruneBatch(ctx context.Context, client *ent.Client, before time.Time, limit int) (int, error) {
	ctx = mark.Prune(viewer.System(ctx))
	old, err := client.Event.Query().Where(event.AtLT(before)).Order(event.ByID()).Limit(limit).
		Select(event.FieldID, event.FieldSubjectID).All(ctx)
	if err != nil || len(old) == 0 {
		return 0, err
	}
	ids := make([]int, len(old))
	for i, e := range old {
		ids[i] = e.ID
	}
	if client.Dialect() == dialect.Postgres {
		return client.Event.Delete().Where(event.IDIn(ids...)).Exec(ctx)
	}
	// On SQLite, in one transaction: should these be the newest events,
	// the next id must still come after them, so the floor goes up; and
	// their entries in the index by subject go with them.
	tx, err := client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	n, err := pruneSQLite(ctx, tx, old, ids)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	return n, tx.Commit()
}

func pruneSQLite(ctx context.Context, tx *ent.Tx, old []*ent.Event, ids []int) (int, error) {
	c := tx.Client()
	last := ids[len(ids)-1]
	for _, q := range db.RaiseEventIDFloorSQLite {
		if _, err := c.ExecRaw(ctx, q, []any{last}); err != nil {
			return 0, fmt.Errorf("keep the event ids' floor: %w", err)
		}
	}
	var keys strings.Builder
	var args []any
	for _, e := range old {
		if e.SubjectID == nil {
			continue
		}
		if len(args) > 0 {
			keys.WriteString(", ")
		}
		keys.WriteString("(?, ?)")
		args = append(args, *e.SubjectID, e.ID)
	}
	if len(args) > 0 {
		q := "DELETE FROM " + db.EventSubjectsTable + " WHERE (subject_id, event_id) IN (VALUES " + keys.String() + ")"
		if _, err := c.ExecRaw(ctx, q, args); err != nil {
			return 0, fmt.Errorf("unindex the pruned events: %w", err)
		}
	}
	return tx.Event.Delete().Where(event.IDIn(ids...)).Exec(ctx)
}

// Diff collects the fields that changed.
type Diff change.Set

// Add records field's change when from and to differ.
func Add[T comparable](d Diff, field string, from, to T) {
	if from != to {
		d[field] = change.Change{From: from, To: to}
	}
}

// AddTime records a time field's change when from and to differ.
func AddTime(d Diff, field string, from, to time.Time) {
	if !from.Equal(to) {
		d[field] = change.Change{From: from, To: to}
	}
}

// AddNillable records an optional field's change when from and to differ
// (nil stands for "none").
func AddNillable[T comparable](d Diff, field string, from, to *T) {
	switch {
	case from == nil && to == nil:
	case from == nil || to == nil || *from != *to:
		d[field] = change.Change{From: deref(from), To: deref(to)}
	}
}

// AddNillableTime is AddNillable for times.
func AddNillableTime(d Diff, field string, from, to *time.Time) {
	switch {
	case from == nil && to == nil:
	case from == nil || to == nil || !from.Equal(*to):
		d[field] = change.Change{From: deref(from), To: deref(to)}
	}
}

// Secret records that a secret field changed, without its values.
func Secret(d Diff, field string) {
	d[field] = change.Change{From: Redacted, To: Redacted}
}

// Created lists a new object's fields (from nothing).
func Created(fields map[string]any) Diff {
	d := make(Diff, len(fields))
	for k, v := range fields {
		d[k] = change.Change{From: nil, To: v}
	}
	return d
}

// Set is d as an entry's changes.
func (d Diff) Set() change.Set {
	if len(d) == 0 {
		return nil
	}
	return change.Set(d)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Truncate cuts s to at most n bytes, on a rune boundary.
func Truncate(s string, n int) string { return truncate(s, n) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// OfSubject keeps the events about the object id (ids are unique across
// types). Use it, not event.SubjectID, to find an object's events: on
// SQLite it reads the index by subject kept in the background
// (internal/db/eventsubjects.go) and the few events after it.
func OfSubject(id int) predicate.Event {
	return func(s *sql.Selector) {
		s.Where(sql.EQ(s.C(event.FieldSubjectID), id))
		if s.Dialect() != dialect.Postgres {
			s.Where(sql.ExprP(db.EventsOfSubjectSQLite(s.C(event.FieldID)), id, id))
		}
	}
}
