package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	entdialect "entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
)

// ThrottleConfig limits failed sign-ins per username and per client address.
type ThrottleConfig struct {
	// MaxFailures within Window lock the key for Lockout.
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
	// Step is the extra delay each failure adds to the answer (capped at a
	// second), slowing guessing before the lock.
	Step time.Duration
	// BusyWait is how long an attempt waits, when a key is at its limit
	// only because of attempts still being compared, for them to finish
	// (a right password gives its reservation back) before it is refused.
	// The sign-in service makes it at least the wait for a turn to hash
	// (HashingConfig.Wait).
	BusyWait time.Duration
}

// DefaultThrottleConfig is the throttle used when nothing is set.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, Step: 100 * time.Millisecond, BusyWait: 2 * time.Second}
}

// Throttle keeps failure counts in the database, so every replica counts
// the same attempts.
//
// An attempt reserves its failure before the password is compared: one
// statement per key (INSERT … ON CONFLICT DO UPDATE … RETURNING) counts it
// and answers whether it is within the limit, so the database, not the
// replica, decides which attempts may compare a password. Of any number of
// simultaneous attempts on one key, at most MaxFailures reach bcrypt in a
// window; a successful attempt gives its reservation back, a failed one
// keeps it and locks the key when it reaches the limit. An attempt that
// finds the key full of attempts still being compared (not locked) waits
// up to BusyWait for them, so that many right passwords at once from one
// address (an office behind one NAT) are not refused.
type Throttle struct {
	client *ent.Client
	cfg    ThrottleConfig
	now    func() time.Time

	mu      sync.Mutex
	dialect string // of the client, learnt on first use
}

// newThrottle makes a throttle with cfg (defaults where unset); an attempt
// that finds a key full waits at least minBusyWait for the attempts in
// flight.
func newThrottle(c *ent.Client, cfg ThrottleConfig, minBusyWait time.Duration, now func() time.Time) *Throttle {
	if cfg.MaxFailures <= 0 {
		cfg = DefaultThrottleConfig()
	}
	if cfg.BusyWait <= 0 {
		cfg.BusyWait = DefaultThrottleConfig().BusyWait
	}
	cfg.BusyWait = max(cfg.BusyWait, minBusyWait)
	return &Throttle{client: c, cfg: cfg, now: now}
}

// Reservation is the outcome of reserving an attempt on some keys.
type Reservation struct {
	// Admitted: the attempt may compare a password. Otherwise a key is
	// locked and Wait says for how long, or (Busy) a key stayed at its
	// limit with attempts being compared for the whole BusyWait.
	Admitted bool
	Wait     time.Duration
	Busy     bool
	// Failures is the highest count among the keys, this attempt included.
	Failures int
	// keys holds the keys this attempt counts on, to give back.
	keys []string
}

// Reserve counts an attempt on each key before its password is compared.
// The attempt is admitted when every key is within its limit; otherwise
// nothing is compared and the reservations are given back at once. A key
// at its limit but not locked holds attempts still being compared: Reserve
// then tries again, with growing pauses, for up to BusyWait. ctx must be a
// system context.
func (t *Throttle) Reserve(ctx context.Context, keys ...string) (*Reservation, error) {
	deadline := time.Now().Add(t.cfg.BusyWait)
	pause := 20 * time.Millisecond
	for {
		res, err := t.reserveOnce(ctx, keys...)
		if err != nil || res.Admitted || res.Wait > 0 {
			return res, err
		}
		if time.Now().Add(pause).After(deadline) {
			res.Busy = true
			return res, nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
		pause = min(2*pause, 320*time.Millisecond)
	}
}

// reserveOnce counts an attempt on each key, once: Wait > 0 when a key is
// locked; neither Admitted nor Wait when a key is only full. The keys are
// counted in one transaction (one turn of the write queue on SQLite), so
// an error counts the attempt on none of them.
func (t *Throttle) reserveOnce(ctx context.Context, keys ...string) (*Reservation, error) {
	d, err := t.dialectOf(ctx)
	if err != nil {
		return nil, err
	}
	q := reserveSQL(d)
	now := t.now().UTC()
	var res *Reservation
	err = WithTx(ctx, t.client, func(tx *ent.Tx) error {
		res = &Reservation{Admitted: true}
		for _, k := range keys {
			failures, lockedUntil, err := t.reserve(ctx, tx, q, k, now)
			if err != nil {
				return err
			}
			res.keys = append(res.keys, k)
			res.Failures = max(res.Failures, failures)
			if lockedUntil.After(now) {
				res.Admitted = false
				res.Wait = max(res.Wait, lockedUntil.Sub(now))
			} else if failures > t.cfg.MaxFailures {
				res.Admitted = false
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reserve sign-in attempt: %w", err)
	}
	if !res.Admitted {
		// Nothing will be compared: this attempt is not a failure.
		if err := t.release(context.WithoutCancel(ctx), res.keys); err != nil {
			return nil, err
		}
		res.keys = nil
	}
	return res, nil
}

// Fail records that an admitted attempt's password was wrong: its
// reservations stay counted, and a key they bring to the limit is locked
// for Lockout. It is done even when the client has gone. ctx must be a
// system context.
func (t *Throttle) Fail(ctx context.Context, r *Reservation) error {
	if r == nil {
		return nil
	}
	keys := r.keys
	r.keys = nil
	if len(keys) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	d, err := t.dialectOf(ctx)
	if err != nil {
		return err
	}
	now := t.now().UTC()
	for _, k := range keys {
		if _, err := t.client.ExecContext(ctx, lockSQL(d), k, t.cfg.MaxFailures, now, now.Add(t.cfg.Lockout)); err != nil {
			return fmt.Errorf("lock sign-in key: %w", err)
		}
	}
	return nil
}

// Release gives an admitted attempt's reservations back: its password was
// right, so it was no failure. It is done even when the client has gone.
// ctx must be a system context.
func (t *Throttle) Release(ctx context.Context, r *Reservation) error {
	if r == nil {
		return nil
	}
	keys := r.keys
	r.keys = nil
	return t.release(context.WithoutCancel(ctx), keys)
}

// reserve counts one attempt on key and returns the count (this attempt
// included) and the key's lock.
//
// In one statement, against the row as it was:
//   - a locked key counts the attempt and keeps its lock;
//   - a key whose window has passed (and is not locked) starts a new one;
//   - a key whose lock ended within its window is set to the limit, so it
//     admits one attempt at a time (a failure locks it again);
//   - otherwise the count goes up.
//
// Only a failure locks a key (Fail), never a reservation: a key full of
// attempts being compared is not locked, and Reserve waits for them.
//
// It runs in tx: a statement that writes and returns rows runs in a
// transaction, which on SQLite is what takes its turn in the database's
// write queue.
func (t *Throttle) reserve(ctx context.Context, tx *ent.Tx, q, key string, now time.Time) (int, time.Time, error) {
	var (
		failures int
		locked   any
	)
	rows, err := tx.QueryContext(ctx, q, key, now, now.Add(-t.cfg.Window), t.cfg.MaxFailures)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, time.Time{}, err
		}
		return 0, time.Time{}, errors.New("no row returned")
	}
	if err := rows.Scan(&failures, &locked); err != nil {
		return 0, time.Time{}, err
	}
	if err := rows.Close(); err != nil {
		return 0, time.Time{}, err
	}
	lockedUntil, err := scanTime(locked)
	if err != nil {
		return 0, time.Time{}, err
	}
	return failures, lockedUntil, nil
}

// release takes one attempt off each key, unlocking a key that falls
// below the limit. A key back at zero is deleted, unless another attempt
// counted on it meanwhile. The keys are given back in one transaction
// (one turn of the write queue on SQLite).
func (t *Throttle) release(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	d, err := t.dialectOf(ctx)
	if err != nil {
		return err
	}
	del, dec := releaseSQL(d)
	err = WithTx(ctx, t.client, func(tx *ent.Tx) error {
		for _, k := range keys {
			res, err := tx.ExecContext(ctx, del, k)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, dec, k, t.cfg.MaxFailures); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("give back sign-in attempt: %w", err)
	}
	return nil
}

// reserveSQL is the reservation statement of a dialect. Its arguments:
// 1 key, 2 now, 3 the start of the current window (now - Window), 4
// MaxFailures. Times
// are compared as the driver writes them: timestamptz on PostgreSQL, and
// on SQLite UTC text of one layout, whose order is the order of time.
func reserveSQL(d string) string {
	arg := func(n int, _ string) string { return "?" + strconv.Itoa(n) }
	if d == entdialect.Postgres {
		arg = func(n int, typ string) string { return "$" + strconv.Itoa(n) + "::" + typ }
	}
	return strings.NewReplacer(
		"$key", arg(1, "text"),
		"$now", arg(2, "timestamptz"),
		"$windowstart", arg(3, "timestamptz"),
		"$max", arg(4, "bigint"),
	).Replace(`INSERT INTO login_throttles AS t (key, failures, window_started_at, locked_until)
VALUES ($key, 1, $now, NULL)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE
    WHEN t.locked_until > $now THEN t.failures + 1
    WHEN t.window_started_at < $windowstart THEN 1
    WHEN t.locked_until IS NOT NULL THEN $max
    ELSE t.failures + 1 END,
  window_started_at = CASE
    WHEN t.locked_until > $now THEN t.window_started_at
    WHEN t.window_started_at < $windowstart THEN $now
    ELSE t.window_started_at END,
  locked_until = CASE
    WHEN t.locked_until > $now THEN t.locked_until
    ELSE NULL END
RETURNING failures, locked_until`)
}

// lockSQL locks a key whose count of failures has reached the limit
// (arguments: key, MaxFailures, now, now + Lockout).
func lockSQL(d string) string {
	if d == entdialect.Postgres {
		return `UPDATE login_throttles SET locked_until = $4::timestamptz
WHERE key = $1 AND failures >= $2::bigint AND (locked_until IS NULL OR locked_until <= $3::timestamptz)`
	}
	return `UPDATE login_throttles SET locked_until = ?4
WHERE key = ?1 AND failures >= ?2 AND (locked_until IS NULL OR locked_until <= ?3)`
}

// releaseSQL is the delete-at-one and the decrement statements of a
// dialect (arguments: key; key and MaxFailures).
func releaseSQL(d string) (del, dec string) {
	if d == entdialect.Postgres {
		return `DELETE FROM login_throttles WHERE key = $1 AND failures <= 1`,
			`UPDATE login_throttles SET failures = GREATEST(failures - 1, 0),
  locked_until = CASE WHEN failures - 1 < $2::bigint THEN NULL ELSE locked_until END
WHERE key = $1`
	}
	return `DELETE FROM login_throttles WHERE key = ?1 AND failures <= 1`,
		`UPDATE login_throttles SET failures = MAX(failures - 1, 0),
  locked_until = CASE WHEN failures - 1 < ?2 THEN NULL ELSE locked_until END
WHERE key = ?1`
}

// dialectOf is the SQL dialect ent builds queries in for this client,
// learnt once from a query that reads nothing.
func (t *Throttle) dialectOf(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dialect != "" {
		return t.dialect, nil
	}
	var d string
	_, err := t.client.LoginThrottle.Query().
		Where(func(s *sql.Selector) {
			d = s.Dialect()
			s.Where(sql.False())
		}).
		Exist(ctx)
	if err != nil {
		return "", err
	}
	if d != entdialect.SQLite && d != entdialect.Postgres {
		return "", fmt.Errorf("login throttle: unsupported SQL dialect %q", d)
	}
	t.dialect = d
	return d, nil
}

// scanTime reads a time the driver returned: a time.Time, or on SQLite
// (where RETURNING has no declared column type) the text it stores.
func scanTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v, nil
	case string:
		return parseSQLiteTime(v)
	case []byte:
		return parseSQLiteTime(string(v))
	}
	return time.Time{}, fmt.Errorf("unexpected time value of type %T", v)
}

func parseSQLiteTime(s string) (time.Time, error) {
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999-07:00",
		"2006-01-02T15:04:05.999999999-07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
	} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("unreadable time in login_throttles")
}

// slow delays a failed answer in proportion to the failures so far.
func (t *Throttle) slow(ctx context.Context, failures int) {
	d := min(time.Duration(failures)*t.cfg.Step, time.Second)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
