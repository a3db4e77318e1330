// Package timedevents holds the event log's background jobs: the
// time-based events the server writes itself (an assignment started, is
// about to expire, expired, ended its grace) and the pruning of old
// events. Both run on the jobs runner, one replica at a time.
//
// # Exactly once
//
// Each time-based event is about one date of one assignment: started its
// starts_at, expiring and expired its expires_at, grace_ended its
// grace_ends_at. Its key (type, assignment, date) is inserted into
// timed_event_keys, whose primary key it is, in the transaction that
// records the event, and the event is recorded only if that insert added
// the row. So the database itself refuses a second event for a key: a run
// that crashes midway rolls back its keys with its events, and two runs at
// once (a lease handed over while its old holder still runs) meet on the
// key, the second waiting for the first's transaction and then finding the
// key taken. A key is taken only while the assignment still has that date,
// so one changed or deleted since it was found due gets no event for its
// old date. Nothing depends on a run remembering where the last one
// stopped: each run looks for the dates due that have no key yet, so an
// assignment assigned late, backdated, or extended after its expiring event
// (a new expires_at is a new key) gets its events at the next run.
//
// Dates further back than Lookback are not looked at (their keys are
// pruned): a server down for longer than that does not write the events
// of dates it missed by more than that. An expiring event is written only
// while the assignment has not expired yet: one found expired at once gets
// its expired event alone.
//
// Suspension moves no dates (its own events tell it): a suspended
// assignment gets its time-based events like any other.
package timedevents

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
)

// Types of the time-based events.
const (
	TypeStarted    = "user_package.started"
	TypeExpiring   = "user_package.expiring"
	TypeExpired    = "user_package.expired"
	TypeGraceEnded = "user_package.grace_ended"
)

// Defaults.
const (
	// DefaultBatch is how many events one transaction writes at most.
	DefaultBatch = 200
	// DefaultMaxPerRun is how many events one run writes at most; the
	// next run goes on.
	DefaultMaxPerRun = 5000
	// DefaultLookback is how far back a date due is still looked at.
	DefaultLookback = 7 * 24 * time.Hour
	// DefaultPruneBatch is how many events one pruning statement deletes
	// at most.
	DefaultPruneBatch = 1000
)

// Options configure the jobs.
type Options struct {
	// Lead is how long before expiry the expiring event comes.
	Lead time.Duration
	// Lookback: dates older than this are not looked at (DefaultLookback).
	Lookback time.Duration
	// Batch bounds the events of one transaction (DefaultBatch).
	Batch int
	// MaxPerRun bounds the events of one run (DefaultMaxPerRun).
	MaxPerRun int
	// Now is the jobs' clock (default schema.Now).
	Now func() time.Time
}

// Timed writes the time-based events.
type Timed struct {
	db  *db.DB
	rec *events.Recorder
	o   Options
	// pruned is when this job last pruned old keys (the runner runs a
	// job once at a time).
	pruned time.Time
}

// keyPruneEvery is how often old keys are pruned.
const keyPruneEvery = time.Hour

// New returns the time-based events' job over d, recording through rec.
func New(d *db.DB, rec *events.Recorder, o Options) *Timed {
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.MaxPerRun <= 0 {
		o.MaxPerRun = DefaultMaxPerRun
	}
	if o.Now == nil {
		o.Now = schema.Now
	}
	return &Timed{db: d, rec: rec, o: o}
}

// kind is one time-based event: which date it is about, and the window
// of dates due at now.
type kind struct {
	typ    string
	column string
	// field names the date in the event's changes, as the assignment's
	// own events name it.
	field  string
	window func(o Options, now time.Time) (after, upTo time.Time)
}

var kinds = []kind{
	{TypeStarted, "starts_at", "startsAt", past},
	{TypeExpiring, "expires_at", "expiresAt", func(o Options, now time.Time) (time.Time, time.Time) { return now, now.Add(o.Lead) }},
	{TypeExpired, "expires_at", "expiresAt", past},
	{TypeGraceEnded, "grace_ends_at", "graceEndsAt", past},
}

func past(o Options, now time.Time) (time.Time, time.Time) { return now.Add(-o.Lookback), now }

// Run writes the time-based events due now, at most MaxPerRun, in
// transactions of at most Batch, and prunes keys too old to matter. It
// returns how many events it wrote.
func (t *Timed) Run(ctx context.Context) (int, error) {
	now := schema.Timestamp(t.o.Now())
	total := 0
	for _, k := range kinds {
		for total < t.o.MaxPerRun {
			n, err := t.batch(ctx, k, now, min(t.o.Batch, t.o.MaxPerRun-total))
			total += n
			if err != nil {
				return total, fmt.Errorf("%s: %w", k.typ, err)
			}
			if n == 0 {
				break
			}
		}
	}
	if now.Sub(t.pruned) >= keyPruneEvery || now.Before(t.pruned) {
		if err := t.pruneKeys(ctx, now); err != nil {
			return total, err
		}
		t.pruned = now
	}
	return total, nil
}

// Job is Run as a job for the runner.
func (t *Timed) Job(ctx context.Context) error {
	_, err := t.Run(ctx)
	return err
}

// due is one event to write.
type due struct {
	id     int
	moment time.Time
}

// batch writes, in one transaction, up to limit events of kind k due at
// now that have no key yet; it returns how many it wrote, or found taken
// meanwhile (0: none were due). It looks for them first outside the
// transaction (on a reader, on SQLite): most runs find none, and then
// never take the writer.
func (t *Timed) batch(ctx context.Context, k kind, now time.Time, limit int) (int, error) {
	after, upTo := k.window(t.o, now)
	var list []due
	if err := t.db.Ent.ReadRows(ctx, t.sql(fmt.Sprintf(dueSQL, k.column)), []any{after, upTo, k.typ, limit}, func(rows *sql.Rows) error {
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.moment); err != nil {
				return err
			}
			list = append(list, d)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if len(list) == 0 {
		return 0, nil
	}
	tx, err := t.db.Ent.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	n := 0
	for _, d := range list {
		// The key decides: one taken already (by another run, since the
		// look) is skipped.
		ok, err := t.write(ctx, tx, k, d)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if n == 0 {
		// Every key was taken meanwhile (another run): those rows are
		// no longer due; look again.
		return len(list), nil
	}
	return n, nil
}

// write takes d's key and, if it was free, records its event.
func (t *Timed) write(ctx context.Context, tx *ent.Tx, k kind, d due) (bool, error) {
	c := tx.Client()
	var taken bool
	if err := c.ReadRows(ctx, t.sql(fmt.Sprintf(keySQL, k.column)), []any{k.typ, d.id, d.moment}, func(rows *sql.Rows) error {
		taken = rows.Next()
		return nil
	}); err != nil {
		return false, err
	}
	if !taken {
		return false, nil
	}
	ev, err := t.rec.Record(ctx, tx, events.Entry{
		Type:        k.typ,
		SubjectType: events.SubjectUserPackage,
		SubjectID:   d.id,
		Actor:       &events.Actor{Kind: events.KindSystem},
		// The date it is about (a receiver of user_package.expiring
		// learns when, without asking).
		Changes: events.Created(map[string]any{k.field: d.moment.UTC()}).Set(),
	})
	if err != nil {
		return false, err
	}
	var n int
	if err := c.ReadRows(ctx, t.sql(keyEventSQL), []any{ev.ID, k.typ, d.id, d.moment}, func(rows *sql.Rows) error {
		for rows.Next() {
			n++
		}
		return nil
	}); err != nil {
		return false, err
	}
	if n != 1 {
		return false, errors.New("the event's key vanished")
	}
	return true, nil
}

// pruneKeys deletes keys of dates older than the lookback (and a day): no
// run looks at those dates any more. Expiring keys are of future dates and
// stay until their date is that old.
func (t *Timed) pruneKeys(ctx context.Context, now time.Time) error {
	before := now.Add(-t.o.Lookback - 24*time.Hour)
	done, err := t.db.WriteTurn(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = t.db.SQL.ExecContext(ctx, t.sql(pruneKeysSQL), before, DefaultPruneBatch)
	return err
}

// The statements, written for PostgreSQL; sql turns them into SQLite's.
const (
	// Arguments: 1 after, 2 up to, 3 type, 4 limit; %s the date's column.
	dueSQL = `SELECT up.id, up.%[1]s FROM user_packages up
WHERE up.%[1]s > $1 AND up.%[1]s <= $2
AND NOT EXISTS (SELECT 1 FROM timed_event_keys k WHERE k.type = $3 AND k.user_package_id = up.id AND k.moment = up.%[1]s)
ORDER BY up.%[1]s, up.id LIMIT $4`
	// Arguments: 1 type, 2 assignment, 3 date; %s the date's column. The
	// key is taken only if the assignment still has that date (it was
	// not changed or deleted since it was found due). The event id is set
	// once the event is written, in the same transaction.
	keySQL = `INSERT INTO timed_event_keys (type, user_package_id, moment, event_id)
SELECT $1::text, $2::bigint, $3::timestamptz, 0
WHERE EXISTS (SELECT 1 FROM user_packages WHERE id = $2::bigint AND %s = $3::timestamptz)
ON CONFLICT (type, user_package_id, moment) DO NOTHING RETURNING 1`
	// Arguments: 1 event, 2 type, 3 assignment, 4 date.
	keyEventSQL = `UPDATE timed_event_keys SET event_id = $1 WHERE type = $2 AND user_package_id = $3 AND moment = $4 RETURNING 1`
	// Arguments: 1 before, 2 limit.
	pruneKeysSQL = `DELETE FROM timed_event_keys WHERE (type, user_package_id, moment) IN
(SELECT type, user_package_id, moment FROM timed_event_keys WHERE moment < $1 LIMIT $2)`
)

var param = regexp.MustCompile(`\$([0-9]+)(::[a-z]+)?`)

// sql is q in the database's dialect.
func (t *Timed) sql(q string) string {
	if t.db.Driver == db.Postgres {
		return q
	}
	return param.ReplaceAllString(q, "?$1")
}

// Retention prunes the events older than the retention.
type Retention struct {
	db    *db.DB
	rec   *events.Recorder
	keep  time.Duration
	batch int
	now   func() time.Time
}

// NewRetention returns the job that deletes events older than keep
// through rec (the event log's own pruning), at most batch
// (DefaultPruneBatch if 0) per statement; now is its clock (nil:
// schema.Now).
func NewRetention(d *db.DB, rec *events.Recorder, keep time.Duration, batch int, now func() time.Time) *Retention {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	if now == nil {
		now = schema.Now
	}
	return &Retention{db: d, rec: rec, keep: keep, batch: batch, now: now}
}

// Run deletes the events older than the retention, in statements of at
// most the batch each (each its own transaction, so the writer is never
// held for long), until none is left or ctx ends. It returns how many it
// deleted.
func (r *Retention) Run(ctx context.Context) (int, error) {
	before := r.now().Add(-r.keep)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := r.rec.PruneBatch(ctx, r.db.Ent, before, r.batch)
		total += n
		if err != nil || n < r.batch {
			return total, err
		}
	}
}

// Job is Run as a job for the runner.
func (r *Retention) Job(ctx context.Context) error {
	_, err := r.Run(ctx)
	return err
}
