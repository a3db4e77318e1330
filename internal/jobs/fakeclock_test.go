package jobs

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told to. Its timers fire
// when Advance passes their time; a timer for no time at all fires at
// once.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*fakeTimer]bool
	changed chan struct{} // closed and replaced whenever timers change
}

type fakeTimer struct {
	c   *fakeClock
	at  time.Time
	ch  chan time.Time
	hit bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:     time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		timers:  map[*fakeTimer]bool{},
		changed: make(chan struct{}),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.hit = true
		t.ch <- c.now
		return t
	}
	c.timers[t] = true
	c.notify()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.hit {
		return false
	}
	t.hit = true
	delete(t.c.timers, t)
	t.c.notify()
	return true
}

// notify wakes waitTimers; c.mu is held.
func (c *fakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock by d, firing the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.hit = true
			t.ch <- c.now
			delete(c.timers, t)
		}
	}
	c.notify()
}

// waitTimers waits until exactly n timers are pending: the runner loops
// using this clock are waiting for it. (A minute without it is a hang,
// reported as such: no assertion on speed.)
func (c *fakeClock) waitTimers(t testing.TB, n int) {
	t.Helper()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	for {
		c.mu.Lock()
		got, ch := len(c.timers), c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-guard.C:
			t.Fatalf("the runners never settled: %d timers pending, want %d", got, n)
		}
	}
}
