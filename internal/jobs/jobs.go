// Package jobs runs Gatehouse's background jobs (time-based events, the
// webhook sender, pruning) so that of several replicas on one database one
// at a time runs each job: a job runs only in the process that holds its
// lease, a row of job_leases.
//
// Each registered job has a loop. At every tick (every `every`, the first
// at Start) a process that does not hold the job's lease tries to take it;
// the holder runs the job, and keeps the lease between runs by renewing it
// every third of the TTL. Taking and renewing are one conditional UPDATE
// each, against the row as it is (take it if it has expired, renew it if
// it is ours); only the first take of a job ever inserts its row. So the
// lease survives reconnects, restarts and failovers of the database
// connection, and anyone can see who holds what.
//
// A holder that cannot renew in time (the database is unreachable, the
// process was paused) counts the lease as lost a fifth of the TTL before
// it expires, and so does one that finds it taken: the running job's
// context is cancelled (with ErrLeaseLost as its cause) and the loop waits
// for the job to return before it tries again. Stop cancels the running
// jobs, keeps their leases renewed until they return, then releases the
// leases (they expire at once), so another replica takes each job over at
// its next tick. A process that dies without releasing hands its jobs over
// when their leases expire, at the first tick after that of another
// replica.
//
// Leases are timed by each process's clock: replicas' clocks must agree
// to well within a fifth of the TTL.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime/debug"
	"sync"
	"time"

	"gatehouse/internal/db"
)

// DefaultTTL is the lease TTL used when none is set.
const DefaultTTL = 30 * time.Second

// ErrLeaseLost is the cause of a job's context cancelled because its
// process no longer holds the job's lease.
var ErrLeaseLost = errors.New("the job's lease was lost")

// ErrStopping is the cause of a job's context cancelled by Stop.
var ErrStopping = errors.New("the job runner is stopping")

// Options configure a Runner.
type Options struct {
	// TTL is how long a lease lasts unless renewed (default DefaultTTL).
	TTL time.Duration
	// Clock is the runner's clock (default the system clock).
	Clock Clock
	// Logger receives the leases taken, lost and released, and job
	// failures (default slog.Default()).
	Logger *slog.Logger
	// Wrap, when set, wraps each job's function as it is registered (to
	// count and time its runs).
	Wrap func(name string, run func(ctx context.Context) error) func(ctx context.Context) error
}

// Runner runs registered jobs under their leases.
type Runner struct {
	db     *db.DB
	ttl    time.Duration
	clock  Clock
	log    *slog.Logger
	holder string
	wrap   func(name string, run func(ctx context.Context) error) func(ctx context.Context) error

	mu      sync.Mutex
	jobs    []*job
	names   map[string]bool
	cancel  context.CancelFunc
	done    chan struct{}
	running bool
}

type job struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
	// exists is set once the job's row is known to exist (rows are never
	// deleted): from then on a take is an UPDATE alone. Only its loop
	// uses it.
	exists bool
}

// New returns a runner over d. It does nothing until jobs are registered
// and it is started.
func New(d *db.DB, o Options) *Runner {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Runner{db: d, ttl: o.TTL, clock: o.Clock, log: o.Logger, holder: newHolder(), names: map[string]bool{}, wrap: o.Wrap}
}

// newHolder is this runner's id in job_leases: the host name and pid, for
// people reading the table or the log, and a random part, so that a
// restarted process (or another with the same pid elsewhere) is someone
// else.
func newHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	if len(host) > 200 {
		host = host[:200]
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Holder is the id this runner holds leases under.
func (r *Runner) Holder() string { return r.holder }

// TTL is the lease TTL.
func (r *Runner) TTL() time.Duration { return r.ttl }

// Register adds a job, run every `every` by whichever process holds the
// lease named name. It panics on an empty or repeated name, a period that
// is not positive, or a runner already started.
func (r *Runner) Register(name string, every time.Duration, run func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case name == "" || len(name) > 100:
		panic("jobs: a job's name must be 1 to 100 bytes")
	case r.names[name]:
		panic("jobs: job " + name + " registered twice")
	case every <= 0:
		panic("jobs: job " + name + " needs a positive period")
	case run == nil:
		panic("jobs: job " + name + " has no function")
	case r.running:
		panic("jobs: register job " + name + " before Start")
	}
	r.names[name] = true
	if r.wrap != nil {
		run = r.wrap(name, run)
	}
	r.jobs = append(r.jobs, &job{name: name, every: every, run: run})
}

// Start starts the loops of the registered jobs; with none, it does
// nothing. Jobs run until Stop (ctx's values reach them; its end does
// not stop them). It panics if the runner is running.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		panic("jobs: Start of a running runner")
	}
	r.running = true
	if len(r.jobs) == 0 {
		r.done = nil
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	r.cancel = func() { cancel(ErrStopping) }
	var wg sync.WaitGroup
	for _, j := range r.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, j)
		}()
	}
	done := make(chan struct{})
	r.done = done
	go func() { wg.Wait(); close(done) }()
}

// Stop cancels the running jobs and waits until they have returned and
// their leases are released, or until ctx ends: then it returns an error,
// and the jobs still running keep their leases renewed until they return.
// The runner may be started again once Stop has returned nil.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		return nil
	}
	done := r.done
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("background jobs still running: %w", context.Cause(ctx))
		}
	}
	r.mu.Lock()
	r.running, r.cancel, r.done = false, nil, nil
	r.mu.Unlock()
	return nil
}

// lease is a loop's view of its job's lease.
type lease struct {
	held bool
	// renewAt is when the holder renews next; deadline is when it counts
	// the lease as lost unless renewed (a fifth of the TTL before it
	// expires, by this process's clock).
	renewAt, deadline time.Time
	// failing is set while the lease statements fail (logged once).
	failing bool
}

// loop runs one job's ticks until ctx ends, then releases its lease.
func (r *Runner) loop(ctx context.Context, j *job) {
	var l lease
	next := r.clock.Now()
	for {
		wake := next
		if l.held && l.renewAt.Before(wake) {
			wake = l.renewAt
		}
		if !r.sleepUntil(ctx, wake) {
			break
		}
		now := r.clock.Now()
		r.keep(ctx, j, &l, now)
		if now.Before(next) {
			continue
		}
		// Ticks missed (while the job ran, or the process was paused)
		// are not made up for: this is the latest one due.
		next = next.Add(now.Sub(next) / j.every * j.every)
		if !l.held {
			r.take(ctx, j, &l, now)
		}
		if l.held {
			r.run(ctx, j, &l)
		}
		next = next.Add(j.every)
	}
	r.release(ctx, j, &l)
}

// sleepUntil waits until t on the runner's clock; false when ctx ended
// first.
func (r *Runner) sleepUntil(ctx context.Context, t time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	d := t.Sub(r.clock.Now())
	if d <= 0 {
		return true
	}
	timer := r.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C():
		return true
	}
}

// take tries to take the lease.
func (r *Runner) take(ctx context.Context, j *job, l *lease, now time.Time) {
	ok, err := r.claim(ctx, j, now)
	if r.failed(j, l, err) {
		return
	}
	if ok {
		r.held(l, now)
		r.log.Info("job lease taken", "job", j.name, "holder", r.holder, "ttl", r.ttl.String())
	}
}

// keep renews a held lease when it is time, and drops one whose deadline
// has passed or that someone else holds now.
func (r *Runner) keep(ctx context.Context, j *job, l *lease, now time.Time) {
	if !l.held {
		return
	}
	if !now.Before(l.deadline) {
		r.lost(j, l, "not renewed in time")
		return
	}
	if now.Before(l.renewAt) {
		return
	}
	ok, err := r.claim(ctx, j, now)
	if r.failed(j, l, err) {
		// Try again soon, and no later than the deadline.
		l.renewAt = now.Add(r.ttl / 10)
		if l.deadline.Before(l.renewAt) {
			l.renewAt = l.deadline
		}
		return
	}
	if !ok {
		r.lost(j, l, "taken by another holder")
		return
	}
	r.held(l, now)
}

func (r *Runner) held(l *lease, now time.Time) {
	l.held = true
	l.renewAt = now.Add(r.ttl / 3)
	l.deadline = now.Add(r.ttl - r.ttl/5)
}

func (r *Runner) lost(j *job, l *lease, why string) {
	l.held = false
	r.log.Info("job lease lost", "job", j.name, "holder", r.holder, "reason", why)
}

// failed logs the first of a streak of failed lease statements, and the
// end of the streak; it reports whether err is one.
func (r *Runner) failed(j *job, l *lease, err error) bool {
	if err != nil {
		if !l.failing {
			r.log.Warn("job lease: database error", "job", j.name, "err", err)
		}
		l.failing = true
		return true
	}
	if l.failing {
		r.log.Info("job lease: database reachable again", "job", j.name)
		l.failing = false
	}
	return false
}

// run runs the job once, renewing its lease meanwhile. The job's context
// ends when ctx does (Stop) or when the lease is lost; either way the
// lease stays renewed, if still held, until the job returns.
func (r *Runner) run(ctx context.Context, j *job, l *lease) {
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- call(jctx, j.run) }()
	for {
		var tc <-chan time.Time
		var timer Timer
		if l.held {
			wake := l.renewAt
			if l.deadline.Before(wake) {
				wake = l.deadline
			}
			timer = r.clock.NewTimer(wake.Sub(r.clock.Now()))
			tc = timer.C()
		}
		select {
		case err := <-done:
			if timer != nil {
				timer.Stop()
			}
			switch {
			case err == nil:
			case jctx.Err() != nil:
				r.log.Debug("job stopped", "job", j.name, "cause", context.Cause(jctx), "err", err)
			default:
				r.log.Warn("job failed", "job", j.name, "err", err)
			}
			return
		case <-tc:
			r.keep(ctx, j, l, r.clock.Now())
			if !l.held {
				cancel(ErrLeaseLost)
			}
		}
	}
}

// call runs fn, turning a panic into an error.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx)
}

// The lease statements. Times are UTC to the microsecond: PostgreSQL
// compares timestamptz; SQLite compares the text go-sqlite3 writes for a
// time, whose order for UTC times is the order of time.

// claim takes or renews the lease in one statement: it becomes ours if it
// is ours already or has expired. A job's first take inserts its row.
func (r *Runner) claim(ctx context.Context, j *job, now time.Time) (bool, error) {
	now = ts(now)
	n, err := r.exec(ctx, r.sql(claimSQL), j.name, r.holder, now.Add(r.ttl), now)
	if err != nil || n > 0 {
		return n > 0, err
	}
	if j.exists {
		return false, nil
	}
	n, err = r.exec(ctx, r.sql(insertSQL), j.name, r.holder, now.Add(r.ttl), now)
	if err != nil {
		return false, err
	}
	// Taken now, or someone else inserted it since: it exists.
	j.exists = true
	return n > 0, nil
}

// release lets the lease expire at once, if it is still ours.
func (r *Runner) release(ctx context.Context, j *job, l *lease) {
	if !l.held {
		return
	}
	l.held = false
	if _, err := r.exec(ctx, r.sql(releaseSQL), j.name, r.holder, time.Unix(0, 0).UTC()); err != nil {
		r.log.Warn("job lease: release failed; it will expire", "job", j.name, "err", err)
		return
	}
	r.log.Info("job lease released", "job", j.name, "holder", r.holder)
}

// exec runs a lease statement on the writer, in its turn on SQLite, with a
// timeout of a third of the TTL. It does not end with ctx: Stop renews and
// releases leases after cancelling it.
func (r *Runner) exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.ttl/3)
	defer cancel()
	done, err := r.db.WriteTurn(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := r.db.SQL.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Arguments: 1 name, 2 holder, 3 expires_at, 4 now.
const (
	claimSQL = `UPDATE job_leases SET
  acquired_at = CASE WHEN holder = $2::text AND expires_at > $4::timestamptz THEN acquired_at ELSE $4::timestamptz END,
  holder = $2::text,
  expires_at = $3::timestamptz
WHERE name = $1::text AND (holder = $2::text OR expires_at <= $4::timestamptz)`
	insertSQL = `INSERT INTO job_leases (name, holder, expires_at, acquired_at)
VALUES ($1::text, $2::text, $3::timestamptz, $4::timestamptz)
ON CONFLICT (name) DO NOTHING`
	// Arguments: 1 name, 2 holder, 3 an expiry long past.
	releaseSQL = `UPDATE job_leases SET expires_at = $3::timestamptz WHERE name = $1::text AND holder = $2::text`
)

// sql is q in the database's dialect.
func (r *Runner) sql(q string) string {
	if r.db.Driver == db.Postgres {
		return q
	}
	return sqliteSQL[q]
}

// sqliteSQL holds each statement for SQLite: ?N parameters, no casts.
var sqliteSQL = func() map[string]string {
	param := regexp.MustCompile(`\$([0-9]+)::[a-z]+`)
	m := map[string]string{}
	for _, q := range []string{claimSQL, insertSQL, releaseSQL} {
		m[q] = param.ReplaceAllString(q, "?$1")
	}
	return m
}()
