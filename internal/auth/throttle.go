package auth

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/loginthrottle"
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
	// LockRows takes row locks (SELECT … FOR UPDATE) while counting: set on
	// PostgreSQL, where replicas count concurrently. SQLite transactions
	// are already serialised.
	LockRows bool
}

// DefaultThrottleConfig is the throttle used when nothing is set.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, Step: 100 * time.Millisecond}
}

// Throttle keeps failure counts in the database, so every replica counts
// the same attempts.
type Throttle struct {
	client *ent.Client
	cfg    ThrottleConfig
	now    func() time.Time
}

func newThrottle(c *ent.Client, cfg ThrottleConfig, now func() time.Time) *Throttle {
	if cfg.MaxFailures <= 0 {
		cfg = DefaultThrottleConfig()
	}
	return &Throttle{client: c, cfg: cfg, now: now}
}

// Check returns how long the most locked of keys stays locked (0: none).
// ctx must be a system context.
func (t *Throttle) Check(ctx context.Context, keys ...string) (time.Duration, error) {
	rows, err := t.client.LoginThrottle.Query().Where(loginthrottle.KeyIn(keys...)).All(ctx)
	if err != nil {
		return 0, err
	}
	now := t.now()
	var wait time.Duration
	for _, r := range rows {
		if r.LockedUntil != nil && r.LockedUntil.After(now) {
			wait = max(wait, r.LockedUntil.Sub(now))
		}
	}
	return wait, nil
}

// Fail counts a failure against each key, locking those that reach the
// limit, and returns the highest count. ctx must be a system context.
func (t *Throttle) Fail(ctx context.Context, keys ...string) (int, error) {
	highest := 0
	for _, k := range keys {
		n, err := t.fail(ctx, k)
		if err != nil {
			return 0, err
		}
		highest = max(highest, n)
	}
	return highest, nil
}

func (t *Throttle) fail(ctx context.Context, key string) (int, error) {
	var failures int
	for attempt := 0; ; attempt++ {
		err := WithTx(ctx, t.client, func(tx *ent.Tx) error {
			now := t.now()
			q := tx.LoginThrottle.Query().Where(loginthrottle.Key(key))
			if t.cfg.LockRows {
				q = q.ForUpdate()
			}
			row, err := q.Only(ctx)
			switch {
			case ent.IsNotFound(err):
				failures = 1
				c := tx.LoginThrottle.Create().SetKey(key).SetFailures(1).SetWindowStartedAt(now)
				if failures >= t.cfg.MaxFailures {
					c.SetLockedUntil(now.Add(t.cfg.Lockout))
				}
				return c.Exec(ctx)
			case err != nil:
				return err
			}
			up := tx.LoginThrottle.UpdateOne(row)
			if now.Sub(row.WindowStartedAt) > t.cfg.Window {
				failures = 1
				up.SetWindowStartedAt(now).ClearLockedUntil()
			} else {
				failures = row.Failures + 1
			}
			up.SetFailures(failures)
			if failures >= t.cfg.MaxFailures {
				up.SetLockedUntil(now.Add(t.cfg.Lockout))
			}
			return up.Exec(ctx)
		})
		// Two first failures at once: one insert wins, the other retries.
		if ent.IsConstraintError(err) && attempt < 3 {
			continue
		}
		return failures, err
	}
}

// Reset forgets a key's failures (after a successful sign-in).
func (t *Throttle) Reset(ctx context.Context, key string) error {
	_, err := t.client.LoginThrottle.Delete().Where(loginthrottle.Key(key)).Exec(ctx)
	return err
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
