package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/joblease"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// The tests run replicas as separate database handles on one database: a
// SQLite file, or a fresh PostgreSQL database when GATEHOUSE_TEST_POSTGRES
// is set. Time is a fake clock moved by the test, except in
// TestHandoversUnderRealConcurrency.

const (
	testTTL   = 30 * time.Second
	testEvery = 10 * time.Second
	jobName   = "test.job"
)

// openReplicas opens n handles on one fresh, migrated database. Each is
// closed when the test ends unless the test closed it (a crash).
func openReplicas(t *testing.T, n int) []*db.DB {
	t.Helper()
	opts := testdb.Options(t)
	if opts.Driver == db.SQLite {
		opts.DSN = filepath.Join(t.TempDir(), "gatehouse.db")
	}
	ctx := context.Background()
	out := make([]*db.DB, n)
	for i := range out {
		d, err := db.Open(ctx, opts)
		if err != nil {
			t.Fatalf("open replica %d: %v", i, err)
		}
		if i == 0 {
			if err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		out[i] = d
		t.Cleanup(func() { d.Close() })
	}
	return out
}

// probe is a job that records its runs and counts runs that overlap
// (across all replicas: they run in this one test process).
type probe struct {
	running  atomic.Int32
	overlaps atomic.Int32
	runs     chan run
}

type run struct {
	by string // the holder of the runner that ran it
	at time.Time
}

func newProbe() *probe { return &probe{runs: make(chan run, 10000)} }

// job is the probe's function for runner r on clock c: it does a real
// write on its replica's database while it counts itself running.
func (p *probe) job(r *Runner, d *db.DB, c Clock) func(context.Context) error {
	return func(ctx context.Context) error {
		if p.running.Add(1) > 1 {
			p.overlaps.Add(1)
		}
		defer p.running.Add(-1)
		runtime.Gosched()
		done, err := d.WriteTurn(ctx)
		if err == nil {
			_, err = d.SQL.ExecContext(ctx, `UPDATE job_leases SET holder = holder WHERE name = 'nothing'`)
			done()
		}
		p.runs <- run{by: r.Holder(), at: c.Now()}
		return err
	}
}

// next waits for the next run.
func (p *probe) next(t *testing.T) run {
	t.Helper()
	select {
	case r := <-p.runs:
		return r
	case <-time.After(time.Minute):
		t.Fatal("no run came")
	}
	return run{}
}

// none checks that no run is waiting.
func (p *probe) none(t *testing.T, when string) {
	t.Helper()
	select {
	case r := <-p.runs:
		t.Fatalf("%s: a run by %s at %v", when, r.by, r.at)
	default:
	}
}

func newRunner(d *db.DB, c Clock, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return New(d, Options{TTL: testTTL, Clock: c, Logger: log})
}

func stop(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// leaseRow reads the job's lease as the database has it.
func leaseRow(t *testing.T, d *db.DB) *ent.JobLease {
	t.Helper()
	l, err := d.Ent.JobLease.Query().Where(joblease.Name(jobName)).Only(viewer.System(context.Background()))
	if err != nil {
		t.Fatalf("read the lease: %v", err)
	}
	return l
}

// TestOneReplicaAtATime: three replicas with the same job. Each tick is
// run exactly once, by the holder; when the holder stops gracefully,
// another runs the very next tick; a replica that comes back does not run
// what another holds; no two runs ever overlap.
func TestOneReplicaAtATime(t *testing.T) {
	dbs := openReplicas(t, 3)
	c := newFakeClock()
	p := newProbe()
	rs := make([]*Runner, len(dbs))
	for i, d := range dbs {
		rs[i] = newRunner(d, c, nil)
		rs[i].Register(jobName, testEvery, p.job(rs[i], d, c))
	}
	// All three start at once and race for the lease at their first tick.
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { r.Start(context.Background()) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, r := range rs {
			stop(t, r)
		}
	})
	byHolder := map[string]*Runner{}
	for _, r := range rs {
		byHolder[r.Holder()] = r
	}
	first := p.next(t)
	holder := byHolder[first.by]
	if holder == nil || !first.at.Equal(c.Now()) {
		t.Fatalf("first run %+v", first)
	}
	pending := 3
	c.waitTimers(t, pending)
	p.none(t, "the first tick")
	var stopped *Runner
	ranBy := map[string]int{first.by: 1}
	for tick := 1; tick <= 12; tick++ {
		switch tick {
		case 4:
			// The holder stops gracefully: the next tick is another's.
			stop(t, holder)
			stopped = holder
			pending--
			if l := leaseRow(t, dbs[0]); l.Holder != holder.Holder() || l.ExpiresAt.After(c.Now()) {
				t.Fatalf("after a graceful stop the lease is %s's until %v, want released", l.Holder, l.ExpiresAt)
			}
		case 7:
			// It comes back, and finds the lease held.
			stopped.Start(context.Background())
			pending++
		}
		c.waitTimers(t, pending)
		c.Advance(testEvery)
		r := p.next(t)
		if !r.at.Equal(c.Now()) {
			t.Fatalf("tick %d run at %v, want %v", tick, r.at, c.Now())
		}
		switch {
		case tick == 4 && r.by == holder.Holder():
			t.Fatalf("tick 4 was run by the replica that stopped")
		case tick == 4:
			holder = byHolder[r.by]
		case r.by != holder.Holder():
			t.Fatalf("tick %d run by %s, the lease is %s's", tick, r.by, holder.Holder())
		}
		ranBy[r.by]++
		c.waitTimers(t, pending)
		p.none(t, "a tick run once")
		if l := leaseRow(t, dbs[1]); l.Holder != holder.Holder() || !l.ExpiresAt.After(c.Now()) {
			t.Fatalf("tick %d: lease %s's until %v, want %s's beyond %v", tick, l.Holder, l.ExpiresAt, holder.Holder(), c.Now())
		}
	}
	if n := p.overlaps.Load(); n != 0 {
		t.Fatalf("%d runs overlapped", n)
	}
	if len(ranBy) != 2 {
		t.Fatalf("runs by holder %v, want two holders (before and after the stop)", ranBy)
	}
}

// TestCrashHandsOverAfterTTL: a replica that dies holding the lease (it
// cannot release it) hands the job over when the lease expires: another
// takes it at its first tick from then on, and not before.
func TestCrashHandsOverAfterTTL(t *testing.T) {
	dbs := openReplicas(t, 2)
	c := newFakeClock()
	p := newProbe()
	a, b := newRunner(dbs[0], c, nil), newRunner(dbs[1], c, nil)
	a.Register(jobName, testEvery, p.job(a, dbs[0], c))
	b.Register(jobName, testEvery, p.job(b, dbs[1], c))
	a.Start(context.Background())
	if r := p.next(t); r.by != a.Holder() {
		t.Fatalf("first run by %s", r.by)
	}
	b.Start(context.Background())
	t.Cleanup(func() { stop(t, b) })
	c.waitTimers(t, 2)
	// A few ticks, so that the lease was renewed since it was taken.
	for range 4 {
		c.Advance(testEvery)
		if r := p.next(t); r.by != a.Holder() {
			t.Fatalf("run by %s while %s holds the lease", r.by, a.Holder())
		}
		c.waitTimers(t, 2)
	}
	// A dies: its database is gone before it could release anything.
	dbs[0].Close()
	stop(t, a)
	l := leaseRow(t, dbs[1])
	if l.Holder != a.Holder() || !l.ExpiresAt.After(c.Now()) {
		t.Fatalf("after the crash the lease is %s's until %v, want still %s's", l.Holder, l.ExpiresAt, a.Holder())
	}
	expires := l.ExpiresAt
	c.waitTimers(t, 1)
	for tick := 0; ; tick++ {
		c.Advance(testEvery)
		if c.Now().Before(expires) {
			c.waitTimers(t, 1) // b tried, and failed
			p.none(t, "before the lease expired")
			if l := leaseRow(t, dbs[1]); l.Holder != a.Holder() {
				t.Fatalf("the lease went to %s before it expired", l.Holder)
			}
			continue
		}
		r := p.next(t)
		if r.by != b.Holder() || !r.at.Equal(c.Now()) {
			t.Fatalf("after expiry, run %+v, want by %s now", r, b.Holder())
		}
		if c.Now().Sub(expires) >= testEvery {
			t.Fatalf("taken over at %v, a tick after the expiry at %v", c.Now(), expires)
		}
		break
	}
	if l := leaseRow(t, dbs[1]); l.Holder != b.Holder() || !l.AcquiredAt.Equal(c.Now()) {
		t.Fatalf("the lease after the takeover: %s's since %v", l.Holder, l.AcquiredAt)
	}
}

// blocker is a job that runs until its context ends and reports why.
type blocker struct {
	started chan struct{}
	causes  chan error
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}, 10), causes: make(chan error, 10)}
}

func (b *blocker) job(ctx context.Context) error {
	b.started <- struct{}{}
	<-ctx.Done()
	b.causes <- context.Cause(ctx)
	return ctx.Err()
}

func (b *blocker) cause(t *testing.T) error {
	t.Helper()
	select {
	case err := <-b.causes:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the job's context never ended")
	}
	return nil
}

func (b *blocker) notCancelled(t *testing.T, when string) {
	t.Helper()
	select {
	case err := <-b.causes:
		t.Fatalf("%s: the job was cancelled (%v)", when, err)
	default:
	}
}

func wait(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatal("the job never started")
	}
}

// TestStolenLeaseCancelsJob: a holder that was paused (its clock stood
// still) while its lease expired and another replica took it finds out at
// its next renewal, and its running job's context is cancelled with
// ErrLeaseLost.
func TestStolenLeaseCancelsJob(t *testing.T) {
	dbs := openReplicas(t, 2)
	ca, cb := newFakeClock(), newFakeClock()
	a, b := newRunner(dbs[0], ca, nil), newRunner(dbs[1], cb, nil)
	blk := newBlocker()
	p := newProbe()
	a.Register(jobName, testEvery, blk.job)
	b.Register(jobName, testEvery, p.job(b, dbs[1], cb))
	a.Start(context.Background())
	t.Cleanup(func() { stop(t, a) })
	wait(t, blk.started)
	b.Start(context.Background())
	t.Cleanup(func() { stop(t, b) })
	cb.waitTimers(t, 1) // b's first tick found the lease held
	p.none(t, "while a holds the lease")

	// a stands still; on b's clock the lease expires.
	cb.Advance(testTTL)
	if r := p.next(t); r.by != b.Holder() {
		t.Fatalf("run by %s", r.by)
	}
	blk.notCancelled(t, "before a looked")
	if l := leaseRow(t, dbs[0]); l.Holder != b.Holder() {
		t.Fatalf("the lease is %s's, want b's", l.Holder)
	}
	// a's clock moves on to its renewal: the lease is no longer its own.
	ca.waitTimers(t, 1)
	ca.Advance(testTTL / 3)
	if err := blk.cause(t); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a's job ended with %v, want ErrLeaseLost", err)
	}
	// a does not run the job again while b holds it.
	ca.waitTimers(t, 1)
	ca.Advance(testEvery)
	ca.waitTimers(t, 1)
	select {
	case <-blk.started:
		t.Fatal("a ran the job again while b holds the lease")
	default:
	}
}

// TestLongJobKeepsItsLease: a run that lasts several TTLs renews its
// lease meanwhile, so no other replica runs the job; when its runner stops,
// the job is cancelled (ErrStopping), and once it has returned another
// replica takes over at its next tick.
func TestLongJobKeepsItsLease(t *testing.T) {
	dbs := openReplicas(t, 2)
	c := newFakeClock()
	a, b := newRunner(dbs[0], c, nil), newRunner(dbs[1], c, nil)
	blk := newBlocker()
	p := newProbe()
	a.Register(jobName, testEvery, blk.job)
	b.Register(jobName, testEvery, p.job(b, dbs[1], c))
	a.Start(context.Background())
	t.Cleanup(func() { stop(t, a) })
	wait(t, blk.started)
	b.Start(context.Background())
	t.Cleanup(func() { stop(t, b) })
	for range 3 * testTTL / testEvery {
		c.waitTimers(t, 2)
		c.Advance(testEvery)
		c.waitTimers(t, 2)
		p.none(t, "while a's long run holds the lease")
		blk.notCancelled(t, "while the lease is renewed")
		if l := leaseRow(t, dbs[1]); l.Holder != a.Holder() || !l.ExpiresAt.After(c.Now().Add(testTTL/2)) {
			t.Fatalf("during the long run the lease is %s's until %v", l.Holder, l.ExpiresAt)
		}
	}
	stop(t, a)
	if err := blk.cause(t); !errors.Is(err, ErrStopping) {
		t.Fatalf("the job ended with %v, want ErrStopping", err)
	}
	c.waitTimers(t, 1)
	c.Advance(testEvery)
	if r := p.next(t); r.by != b.Holder() {
		t.Fatalf("after a stopped, run by %s", r.by)
	}
}

// TestUnrenewedLeaseCancelsJob: a holder that cannot reach the database
// to renew keeps running its job until a fifth of the TTL before the
// lease would expire, then cancels it with ErrLeaseLost: before anyone
// else may take the lease.
func TestUnrenewedLeaseCancelsJob(t *testing.T) {
	dbs := openReplicas(t, 2)
	c := newFakeClock()
	a := newRunner(dbs[0], c, nil)
	blk := newBlocker()
	a.Register(jobName, testEvery, blk.job)
	a.Start(context.Background())
	t.Cleanup(func() { stop(t, a) })
	wait(t, blk.started)
	taken := c.Now()
	expires := leaseRow(t, dbs[1]).ExpiresAt
	if !expires.Equal(taken.Add(testTTL)) {
		t.Fatalf("the lease expires at %v, want %v", expires, taken.Add(testTTL))
	}
	dbs[0].Close()
	// Renewals fail; the lease is still the holder's.
	for c.Now().Before(taken.Add(testTTL - testTTL/5 - time.Second)) {
		c.waitTimers(t, 1)
		c.Advance(time.Second)
		c.waitTimers(t, 1)
		blk.notCancelled(t, "before the deadline at "+c.Now().String())
	}
	c.Advance(time.Second)
	if err := blk.cause(t); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("the job ended with %v, want ErrLeaseLost", err)
	}
	if !c.Now().Before(expires) {
		t.Fatalf("cancelled at %v, not before the lease expired at %v", c.Now(), expires)
	}
}

// TestRestartRetakesLease: a runner stopped gracefully and started again
// (the same process, or a new one) takes the lease back at its first
// tick; the log says so.
func TestRestartRetakesLease(t *testing.T) {
	dbs := openReplicas(t, 1)
	c := newFakeClock()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	p := newProbe()
	r := newRunner(dbs[0], c, log)
	r.Register(jobName, testEvery, p.job(r, dbs[0], c))
	r.Start(context.Background())
	p.next(t)
	c.waitTimers(t, 1)
	stop(t, r)
	c.Advance(time.Minute)
	r.Start(context.Background())
	if got := p.next(t); got.by != r.Holder() || !got.at.Equal(c.Now()) {
		t.Fatalf("after a restart: run %+v", got)
	}
	if l := leaseRow(t, dbs[0]); l.Holder != r.Holder() || !l.AcquiredAt.Equal(c.Now()) || !l.ExpiresAt.Equal(c.Now().Add(testTTL)) {
		t.Fatalf("lease after the restart: %+v", l)
	}
	c.waitTimers(t, 1)
	stop(t, r)

	// A new process (another holder id) over the same database.
	n := newRunner(dbs[0], c, log)
	n.Register(jobName, testEvery, p.job(n, dbs[0], c))
	n.Start(context.Background())
	t.Cleanup(func() { stop(t, n) })
	if got := p.next(t); got.by != n.Holder() || n.Holder() == r.Holder() {
		t.Fatalf("a new process: run %+v (old holder %s)", got, r.Holder())
	}
	for _, want := range []string{
		`msg="job lease taken" job=test.job holder=` + r.Holder(),
		`msg="job lease released" job=test.job holder=` + r.Holder(),
		`msg="job lease taken" job=test.job holder=` + n.Holder(),
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestNoJobsNoWork: a runner without jobs starts and stops without
// touching the database.
func TestNoJobsNoWork(t *testing.T) {
	dbs := openReplicas(t, 1)
	c := newFakeClock()
	r := newRunner(dbs[0], c, nil)
	r.Start(context.Background())
	c.waitTimers(t, 0)
	stop(t, r)
	n, err := dbs[0].Ent.JobLease.Query().Count(viewer.System(context.Background()))
	if err != nil || n != 0 {
		t.Fatalf("%d leases (%v), want none", n, err)
	}
}

// TestHandoversUnderRealConcurrency: three replicas on the real clock, a
// job every 2 ms, while replicas stop and start again at random: the job
// keeps being run, by one replica at a time.
func TestHandoversUnderRealConcurrency(t *testing.T) {
	dbs := openReplicas(t, 3)
	p := newProbe()
	rs := make([]*Runner, len(dbs))
	up := make([]bool, len(dbs))
	for i, d := range dbs {
		rs[i] = New(d, Options{TTL: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		rs[i].Register(jobName, 2*time.Millisecond, p.job(rs[i], d, SystemClock{}))
		rs[i].Start(context.Background())
		up[i] = true
	}
	t.Cleanup(func() {
		for _, r := range rs {
			stop(t, r)
		}
	})
	holders := map[string]bool{}
	total := 0
	for range 30 {
		// Some runs; then the replicas that were stopped start again,
		// and the holder stops: another takes over.
		var last run
		for range 5 {
			last = p.next(t)
			holders[last.by] = true
			total++
		}
		for i, r := range rs {
			if !up[i] {
				r.Start(context.Background())
				up[i] = true
			}
		}
		for i, r := range rs {
			if r.Holder() == last.by {
				stop(t, r)
				up[i] = false
			}
		}
	}
	if n := p.overlaps.Load(); n != 0 {
		t.Fatalf("%d of %d runs overlapped", n, total)
	}
	// Which replica takes a job over is up to timing, so not every one
	// need ever hold it; but the first holder was stopped, so runs by
	// more than one replica show the handovers.
	if len(holders) < 2 {
		t.Fatalf("runs by %d replica, want handovers to others", len(holders))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
