package timedevents_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/schema"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/timedevents"
	"gatehouse/internal/viewer"
)

const lead = 72 * time.Hour

// clock is the jobs' clock, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fixture struct {
	db    *db.DB
	svc   *service.Service
	sys   context.Context
	clock *clock
	users int
	pkg   *ent.Pkg
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := testdb.Open(t)
	cfg := auth.DefaultConfig()
	cfg.BcryptCost = auth.MinBcryptCost
	cfg.TestBcryptCost = bcrypt.MinCost
	a, err := auth.New(d.Ent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: d, svc: service.New(d.Ent, a), sys: viewer.System(context.Background()), clock: &clock{now: schema.Now()}}
	grace := 2
	f.pkg, err = f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: "pro", Days: 10, GraceDays: &grace})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// job is a new runner's job (a restarted server's), on the fixture's clock.
func (f *fixture) job(o timedevents.Options) *timedevents.Timed {
	o.Lead = lead
	o.Now = f.clock.Now
	return timedevents.New(f.db, f.svc.Events(), o)
}

// assign assigns the package to a new user (assigning it again to the
// same user would extend the assignment).
func (f *fixture) assign(t *testing.T, starts time.Time, days int) *ent.UserPackage {
	t.Helper()
	f.users++
	name := fmt.Sprintf("user%d", f.users)
	u, err := f.svc.CreateUser(f.sys, service.CreateUserInput{Username: name, Password: "password-" + name})
	if err != nil {
		t.Fatal(err)
	}
	up, err := f.svc.AssignPackage(f.sys, service.AssignPackageInput{UserID: u.ID, PackageID: f.pkg.ID, StartsAt: &starts, Days: &days})
	if err != nil {
		t.Fatal(err)
	}
	return up
}

func (f *fixture) run(t *testing.T, j *timedevents.Timed) int {
	t.Helper()
	n, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// counts are the time-based events of an assignment, by type.
func (f *fixture) counts(t *testing.T, id int) map[string]int {
	t.Helper()
	evs, err := f.db.Ent.Event.Query().Where(event.SubjectType(events.SubjectUserPackage), event.SubjectID(id),
		event.TypeIn(timedevents.TypeStarted, timedevents.TypeExpiring, timedevents.TypeExpired, timedevents.TypeGraceEnded)).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range evs {
		if e.ActorKind != events.KindSystem || e.ActorID != nil {
			t.Errorf("%s by %s %v, want the server itself", e.Type, e.ActorKind, e.ActorID)
		}
		m[e.Type]++
	}
	return m
}

func (f *fixture) want(t *testing.T, id int, started, expiring, expired, graceEnded int) {
	t.Helper()
	got := f.counts(t, id)
	want := map[string]int{timedevents.TypeStarted: started, timedevents.TypeExpiring: expiring,
		timedevents.TypeExpired: expired, timedevents.TypeGraceEnded: graceEnded}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("at %v assignment %d has %d %s events, want %d", f.clock.Now(), id, got[typ], typ, n)
		}
	}
}

// As the clock crosses each date of an assignment, its event is written,
// once: runs before the date write nothing, runs after it write nothing
// more, and a restarted server (a new job) writes no duplicate.
func TestEachEventOnceAsTheClockCrossesItsDate(t *testing.T) {
	f := newFixture(t)
	t0 := f.clock.Now()
	up := f.assign(t, t0.Add(time.Hour), 10)
	if !up.ExpiresAt.Equal(up.StartsAt.Add(10*24*time.Hour)) || !up.GraceEndsAt.Equal(up.ExpiresAt.Add(2*24*time.Hour)) {
		t.Fatalf("fixture dates: %v %v %v", up.StartsAt, up.ExpiresAt, up.GraceEndsAt)
	}
	j := f.job(timedevents.Options{})
	steps := []struct {
		at                                    time.Time
		started, expiring, expired, graceEnds int
	}{
		{t0, 0, 0, 0, 0},
		{up.StartsAt.Add(-time.Microsecond), 0, 0, 0, 0},
		{up.StartsAt, 1, 0, 0, 0},
		{up.StartsAt.Add(time.Minute), 1, 0, 0, 0},
		{up.ExpiresAt.Add(-lead - time.Microsecond), 1, 0, 0, 0},
		{up.ExpiresAt.Add(-lead), 1, 1, 0, 0},
		{up.ExpiresAt.Add(-time.Microsecond), 1, 1, 0, 0},
		{up.ExpiresAt, 1, 1, 1, 0},
		{up.GraceEndsAt.Add(-time.Microsecond), 1, 1, 1, 0},
		{up.GraceEndsAt, 1, 1, 1, 1},
		{up.GraceEndsAt.Add(24 * time.Hour), 1, 1, 1, 1},
	}
	for _, s := range steps {
		f.clock.Set(s.at)
		f.run(t, j)
		f.run(t, j)
		f.want(t, up.ID, s.started, s.expiring, s.expired, s.graceEnds)
		// A restarted server finds nothing more to write.
		if n := f.run(t, f.job(timedevents.Options{})); n != 0 {
			t.Errorf("at %v a new job wrote %d more events", s.at, n)
		}
	}
	// By now the started date (13 days back) is older than the lookback
	// and a day: its key went; the other three stay.
	if n := f.keys(t); n != 3 {
		t.Errorf("%d keys, want 3", n)
	}
	// Once the dates are older than the lookback (and a day), their keys
	// go, and no event comes again.
	f.clock.Set(up.GraceEndsAt.Add(timedevents.DefaultLookback + 24*time.Hour + time.Minute))
	f.run(t, f.job(timedevents.Options{}))
	if n := f.keys(t); n != 0 {
		t.Errorf("%d keys left, want 0", n)
	}
	f.run(t, f.job(timedevents.Options{}))
	f.want(t, up.ID, 1, 1, 1, 1)

	// Each event names the date it is about.
	dates := map[string]struct {
		field string
		at    time.Time
	}{
		timedevents.TypeStarted:    {"startsAt", up.StartsAt},
		timedevents.TypeExpiring:   {"expiresAt", up.ExpiresAt},
		timedevents.TypeExpired:    {"expiresAt", up.ExpiresAt},
		timedevents.TypeGraceEnded: {"graceEndsAt", up.GraceEndsAt},
	}
	evs, err := f.db.Ent.Event.Query().Where(event.SubjectID(up.ID), event.TypeHasPrefix("user_package.")).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range evs {
		want, ok := dates[e.Type]
		if !ok {
			continue
		}
		seen++
		c, ok := e.Changes[want.field]
		got, _ := c.To.(string)
		if at, err := time.Parse(time.RFC3339Nano, got); !ok || err != nil || !at.Equal(want.at) {
			t.Errorf("%s: changes %v, want %s = %v", e.Type, e.Changes, want.field, want.at)
		}
	}
	if seen != len(dates) {
		t.Errorf("%d time-based events, want %d", seen, len(dates))
	}
}

func (f *fixture) keys(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.db.SQL.QueryRow(`SELECT count(*) FROM ` + db.TimedEventKeysTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An assignment extended after its expiring event gets a new one for its
// new date, at once if the new date is within the lead already, and then
// its expired event at the new date only.
func TestExtensionMakesNewDates(t *testing.T) {
	f := newFixture(t)
	t0 := f.clock.Now()
	up := f.assign(t, t0.Add(time.Hour), 10)
	j := f.job(timedevents.Options{Lookback: 60 * 24 * time.Hour})
	f.clock.Set(up.ExpiresAt.Add(-lead))
	f.run(t, j)
	f.want(t, up.ID, 1, 1, 0, 0)

	// Extended by an hour: its new expiring event comes an hour later.
	later := up.ExpiresAt.Add(time.Hour)
	if _, err := f.svc.UpdateUserPackage(f.sys, up.ID, service.UpdateUserPackageInput{ExpiresAt: &later}); err != nil {
		t.Fatal(err)
	}
	f.run(t, j)
	f.want(t, up.ID, 1, 1, 0, 0)
	f.clock.Set(later.Add(-lead))
	f.run(t, j)
	f.want(t, up.ID, 1, 2, 0, 0)

	// Its expiry moved a minute sooner: a new date, already within the
	// lead, whose expiring event comes at once.
	sooner := f.clock.Now().Add(lead - time.Minute)
	if _, err := f.svc.UpdateUserPackage(f.sys, up.ID, service.UpdateUserPackageInput{ExpiresAt: &sooner}); err != nil {
		t.Fatal(err)
	}
	f.run(t, j)
	f.want(t, up.ID, 1, 3, 0, 0)
	later = sooner

	// Extended by ten days: the next expiring event comes at its lead.
	days := 10
	up2, err := f.svc.UpdateUserPackage(f.sys, up.ID, service.UpdateUserPackageInput{ExtendDays: &days})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(later) // the old date passes: nothing is due on it
	f.run(t, j)
	f.want(t, up.ID, 1, 3, 0, 0)
	f.clock.Set(up2.ExpiresAt.Add(-lead))
	f.run(t, j)
	f.want(t, up.ID, 1, 4, 0, 0)
	f.clock.Set(up2.GraceEndsAt)
	f.run(t, j)
	f.run(t, f.job(timedevents.Options{Lookback: 60 * 24 * time.Hour}))
	f.want(t, up.ID, 1, 4, 1, 1)
}

// A suspended assignment's dates keep running, and so do its events.
func TestSuspendedAssignmentKeepsItsEvents(t *testing.T) {
	f := newFixture(t)
	up := f.assign(t, f.clock.Now().Add(time.Hour), 10)
	if _, err := f.svc.SuspendUserPackage(f.sys, up.ID, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(up.GraceEndsAt)
	f.run(t, f.job(timedevents.Options{Lookback: 30 * 24 * time.Hour}))
	// Found already expired: no expiring event, the others once.
	f.want(t, up.ID, 1, 0, 1, 1)
}

// Dates further back than the lookback are not written.
func TestDatesBeyondTheLookbackAreSkipped(t *testing.T) {
	f := newFixture(t)
	up := f.assign(t, f.clock.Now().Add(time.Hour), 10)
	f.clock.Set(up.StartsAt.Add(25 * time.Hour))
	f.run(t, f.job(timedevents.Options{Lookback: 24 * time.Hour}))
	f.want(t, up.ID, 0, 0, 0, 0)
	f.run(t, f.job(timedevents.Options{Lookback: 26 * time.Hour}))
	f.want(t, up.ID, 1, 0, 0, 0)
}

// A run writes at most MaxPerRun events, in transactions of at most
// Batch; the next run goes on where it stopped.
func TestRunsAreBounded(t *testing.T) {
	f := newFixture(t)
	var ups []*ent.UserPackage
	for range 5 {
		ups = append(ups, f.assign(t, f.clock.Now().Add(time.Hour), 10))
	}
	f.clock.Set(ups[0].StartsAt.Add(time.Minute))
	j := f.job(timedevents.Options{Batch: 2, MaxPerRun: 3})
	if n := f.run(t, j); n != 3 {
		t.Errorf("the first run wrote %d events, want 3", n)
	}
	if n := f.run(t, j); n != 2 {
		t.Errorf("the second run wrote %d events, want 2", n)
	}
	if n := f.run(t, j); n != 0 {
		t.Errorf("the third run wrote %d events, want 0", n)
	}
	for _, up := range ups {
		f.want(t, up.ID, 1, 0, 0, 0)
	}
}

// A run that fails midway (the server dies, an outbox refuses) leaves
// neither events nor keys of its transaction: the next run writes each
// event once.
func TestFailedRunLeavesNothingHalfDone(t *testing.T) {
	f := newFixture(t)
	var ups []*ent.UserPackage
	for range 3 {
		ups = append(ups, f.assign(t, f.clock.Now().Add(time.Hour), 10))
	}
	f.clock.Set(ups[0].StartsAt.Add(time.Minute))
	rec := events.New(nil)
	calls := 0
	rec.AddOutbox(events.OutboxFunc(func(context.Context, *ent.Tx, *ent.Event) error {
		calls++
		if calls == 3 {
			return errors.New("the server died")
		}
		return nil
	}))
	failing := timedevents.New(f.db, rec, timedevents.Options{Lead: lead, Now: f.clock.Now})
	if _, err := failing.Run(context.Background()); err == nil {
		t.Fatal("the failing run reported no error")
	}
	for _, up := range ups {
		f.want(t, up.ID, 0, 0, 0, 0)
	}
	f.run(t, f.job(timedevents.Options{}))
	for _, up := range ups {
		f.want(t, up.ID, 1, 0, 0, 0)
	}
}

// Several jobs running at once (a lease handed over while its old holder
// still runs) write each event once.
func TestRacingJobsWriteEachEventOnce(t *testing.T) {
	f := newFixture(t)
	var ups []*ent.UserPackage
	for range 30 {
		ups = append(ups, f.assign(t, f.clock.Now().Add(time.Hour), 10))
	}
	f.clock.Set(ups[0].ExpiresAt)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each its own small batches, so that they interleave.
			j := f.job(timedevents.Options{Batch: 3, Lookback: 30 * 24 * time.Hour})
			for range 3 {
				if _, err := j.Run(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, up := range ups {
		f.want(t, up.ID, 1, 0, 1, 0)
	}
}

// Retention removes the events older than it, only those, in batches.
func TestRetentionRemovesOnlyOlderEvents(t *testing.T) {
	f := newFixture(t)
	t0 := f.clock.Now()
	rec := events.New(nil)
	at := t0
	rec.SetClock(func() time.Time { return at })
	var old, recent []int
	for i := range 7 {
		at = t0.Add(-time.Duration(400-i) * 24 * time.Hour)
		if i >= 5 {
			at = t0.Add(-time.Duration(364-i) * 24 * time.Hour)
		}
		tx, err := f.db.Ent.Tx(f.sys)
		if err != nil {
			t.Fatal(err)
		}
		e, err := rec.Record(f.sys, tx, events.Entry{Type: "test.event", Actor: &events.Actor{Kind: events.KindSystem}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if i >= 5 {
			recent = append(recent, e.ID)
		} else {
			old = append(old, e.ID)
		}
	}
	before := f.db.Ent.Event.Query().Where(event.TypeNEQ("test.event")).CountX(f.sys)
	r := timedevents.NewRetention(f.db, f.svc.Events(), 365*24*time.Hour, 2, f.clock.Now)
	n, err := r.Run(context.Background())
	if err != nil || n != len(old) {
		t.Fatalf("retention deleted %d events (%v), want %d", n, err, len(old))
	}
	left := f.db.Ent.Event.Query().Where(event.Type("test.event")).IDsX(f.sys)
	if len(left) != len(recent) || left[0] != recent[0] && left[0] != recent[1] {
		t.Errorf("left %v, want %v", left, recent)
	}
	if after := f.db.Ent.Event.Query().Where(event.TypeNEQ("test.event")).CountX(f.sys); after != before {
		t.Errorf("the fixture's own (new) events went from %d to %d", before, after)
	}
	if n, err := r.Run(context.Background()); err != nil || n != 0 {
		t.Errorf("a second pruning deleted %d (%v)", n, err)
	}
}

// An assignment changed after it was found due (extended, here within the
// run's own transaction) gets no event for the date it no longer has.
func TestNoEventForADateChangedMeanwhile(t *testing.T) {
	f := newFixture(t)
	a := f.assign(t, f.clock.Now().Add(time.Hour), 10)
	b := f.assign(t, f.clock.Now().Add(time.Hour), 10)
	rec := events.New(nil)
	rec.AddOutbox(events.OutboxFunc(func(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
		if e.Type != timedevents.TypeExpired || *e.SubjectID != a.ID {
			return nil
		}
		later := b.ExpiresAt.Add(10 * 24 * time.Hour)
		return tx.UserPackage.UpdateOneID(b.ID).SetExpiresAt(later).SetGraceEndsAt(later).Exec(viewer.System(ctx))
	}))
	f.clock.Set(a.ExpiresAt)
	j := timedevents.New(f.db, rec, timedevents.Options{Lead: lead, Now: f.clock.Now, Lookback: 30 * 24 * time.Hour})
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.want(t, a.ID, 1, 0, 1, 0)
	f.want(t, b.ID, 1, 0, 0, 0)
}
