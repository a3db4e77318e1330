package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/viewer"
)

// oneHasher is a service that compares one password at a time, and the
// user alice.
func oneHasher(t *testing.T, wait time.Duration) *fixture {
	t.Helper()
	f := setupWith(t, func(c *auth.Config) {
		c.Hashing = auth.HashingConfig{Concurrency: 1, Wait: wait}
		// Many attempts at once on one key are the gate's to refuse here.
		c.Throttle.MaxFailures = 1000
	})
	f.user(t, "alice", "alice-password", false)
	return f
}

// throttleRows is the number of keys that still count attempts.
func throttleRows(t *testing.T, c *ent.Client) int {
	t.Helper()
	n, err := c.LoginThrottle.Query().Count(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A flood of sign-ins while the one comparison allowed at a time is under
// way: those that wait longer than the wait are refused with RATE_LIMITED
// (not compared), never two comparisons run at once, the refused attempts
// give their throttle reservations back, and the right password still
// signs in afterwards.
func TestLoginFloodIsBoundedAndRefused(t *testing.T) {
	const flood = 12
	f := oneHasher(t, 20*time.Millisecond)
	var (
		most    atomic.Int64
		first   sync.Once
		holding = make(chan struct{})
		release = make(chan struct{})
	)
	auth.OnHash(f.auth, func(running int) {
		for {
			m := most.Load()
			if int64(running) <= m || most.CompareAndSwap(m, int64(running)) {
				break
			}
		}
		// The first comparison holds the only turn until the others are
		// answered.
		first.Do(func() { close(holding); <-release })
	})
	ctx := context.Background()
	ci := auth.ClientInfo{IP: "192.0.2.1"}
	firstErr := make(chan error, 1)
	go func() {
		_, err := f.auth.Login(ctx, "alice", "alice-password", ci)
		firstErr <- err
	}()
	<-holding

	errs := make(chan error, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "alice-password"
			if i%2 == 1 {
				pw = "wrong-password"
			}
			_, err := f.auth.Login(ctx, "alice", pw, ci)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("the sign-in that held the turn: %v", err)
	}
	limited := 0
	for err := range errs {
		if code(err) != apperr.RateLimited {
			t.Errorf("a sign-in while the only turn was taken: %v, want RATE_LIMITED", err)
			continue
		}
		limited++
	}
	if limited != flood {
		t.Fatalf("%d of %d sign-ins refused", limited, flood)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d password comparisons ran at once, want at most 1", m)
	}
	// None of the refused attempts was compared: none counts as a failure.
	if n := throttleRows(t, f.client); n != 0 {
		t.Errorf("%d throttle keys still count attempts after the flood", n)
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); err != nil {
		t.Fatalf("sign-in after the flood: %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "wrong-password", ci); code(err) != apperr.Unauthenticated {
		t.Fatalf("wrong password after the flood: %v, want UNAUTHENTICATED", err)
	}
}

// Waiters are served in arrival order and all of them get their turn when
// the wait allows it: a burst on one hasher is queued, not refused.
func TestLoginBurstQueuesWithinTheWait(t *testing.T) {
	const burst = 6
	f := oneHasher(t, time.Minute)
	var most atomic.Int64
	auth.OnHash(f.auth, func(running int) {
		if int64(running) > most.Load() {
			most.Store(int64(running))
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.auth.Login(context.Background(), "alice", "alice-password", auth.ClientInfo{IP: fmt.Sprintf("192.0.2.%d", i+1)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("sign-in in a burst: %v", err)
		}
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d password comparisons ran at once, want at most 1", m)
	}
}

// A sign-in whose client goes away while it waits for its turn leaves the
// queue at once, gives its throttle reservation back, and does not take
// the turn from those after it.
func TestCancelledLoginLeavesTheQueue(t *testing.T) {
	f := oneHasher(t, time.Minute)
	var (
		first   sync.Once
		holding = make(chan struct{})
		release = make(chan struct{})
		runs    atomic.Int64
	)
	auth.OnHash(f.auth, func(int) {
		runs.Add(1)
		first.Do(func() { close(holding); <-release })
	})
	ci := auth.ClientInfo{IP: "192.0.2.1"}
	firstErr := make(chan error, 1)
	go func() {
		_, err := f.auth.Login(context.Background(), "alice", "alice-password", ci)
		firstErr <- err
	}()
	<-holding

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := f.auth.Login(ctx, "alice", "alice-password", ci)
		waiting <- err
	}()
	for auth.HashesWaiting(f.auth) != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sign-in: %v, want context.Canceled", err)
	}
	if n := auth.HashesWaiting(f.auth); n != 0 {
		t.Fatalf("%d password operations still wait after the cancel", n)
	}
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("the sign-in that held the turn: %v", err)
	}
	if _, err := f.auth.Login(context.Background(), "alice", "alice-password", ci); err != nil {
		t.Fatalf("sign-in after the cancel: %v", err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d comparisons ran, want 2 (the cancelled sign-in compared nothing)", n)
	}
	if n := throttleRows(t, f.client); n != 0 {
		t.Errorf("%d throttle keys still count attempts", n)
	}
}

// New passwords are hashed in the same queue: an admin setting a password
// while the turn is taken too long is refused with RATE_LIMITED.
func TestHashWaitsItsTurn(t *testing.T) {
	f := oneHasher(t, 20*time.Millisecond)
	var (
		first   sync.Once
		holding = make(chan struct{})
		release = make(chan struct{})
	)
	auth.OnHash(f.auth, func(int) { first.Do(func() { close(holding); <-release }) })
	done := make(chan error, 1)
	go func() {
		_, err := f.auth.Login(context.Background(), "alice", "alice-password", auth.ClientInfo{})
		done <- err
	}()
	<-holding
	if _, err := f.auth.HashContext(context.Background(), "password", "a-new-password"); code(err) != apperr.RateLimited {
		t.Errorf("hash while the turn is taken: %v, want RATE_LIMITED", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h, err := f.auth.HashContext(context.Background(), "password", "a-new-password")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("a-new-password")) != nil {
		t.Error("the hash does not match its password")
	}
}

// The hash unknown usernames are compared with has the configured cost
// (so the comparison takes as long as with a real hash) and matches no
// password.
func TestDummyHash(t *testing.T) {
	for _, cost := range []int{auth.MinBcryptCost, auth.MinBcryptCost + 1} {
		h, err := auth.DummyHash(cost)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := bcrypt.Cost([]byte(h)); err != nil || c != cost {
			t.Errorf("cost of %q = %d, %v; want %d", h, c, err, cost)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("any-password")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			t.Errorf("comparing with the dummy hash: %v, want a mismatch", err)
		}
	}
}
