package auth_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/viewer"
)

// heldComparisons holds the first n password comparisons until release is
// called, counting every comparison made.
type heldComparisons struct {
	n       int32
	entered atomic.Int32
	gate    chan struct{}
	once    sync.Once
}

func holdComparisons(t *testing.T, n int) *heldComparisons {
	h := &heldComparisons{n: int32(n), gate: make(chan struct{})}
	restore := auth.OnCompare(func() {
		if h.entered.Add(1) <= h.n {
			<-h.gate
		}
	})
	t.Cleanup(func() { h.release(); restore() })
	return h
}

func (h *heldComparisons) release() { h.once.Do(func() { close(h.gate) }) }

// parallelGuesses runs n attempts at once, each held in its comparison,
// and returns once every attempt is either held there or answered. Then
// the held ones are the attempts the throttle let reach bcrypt.
func parallelGuesses(t *testing.T, n int, attempt func(i int) error) (*heldComparisons, func() map[apperr.Code]int) {
	t.Helper()
	h := holdComparisons(t, n)
	var answered atomic.Int32
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			err := attempt(i)
			answered.Add(1)
			errs <- err
		}()
	}
	close(start)
	for h.entered.Load()+answered.Load() < int32(n) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	finish := func() map[apperr.Code]int {
		h.release()
		codes := map[apperr.Code]int{}
		for range n {
			codes[code(<-errs)]++
		}
		return codes
	}
	return h, finish
}

// shortBusyWait keeps attempts held behind comparisons that a test holds
// from waiting the default BusyWait. Every admitted attempt gets a turn to
// hash at once: a comparison the test holds would otherwise keep the turn
// from the others, and what is tested here is which attempts the
// throttle admits.
func shortBusyWait(c *auth.Config) {
	c.Throttle.BusyWait = 200 * time.Millisecond
	c.Hashing = auth.HashingConfig{Concurrency: 64, Wait: 200 * time.Millisecond}
}

// TestParallelGuessesStopAtTheLimit: of 20 simultaneous wrong guesses at
// most MaxFailures compare a password, and the right password sent while
// they are in flight is refused without being compared.
func TestParallelGuessesStopAtTheLimit(t *testing.T) {
	const n = 20
	ctx := context.Background()

	t.Run("login", func(t *testing.T) {
		f := setupWith(t, shortBusyWait)
		f.user(t, "alice", "alice-password", false)
		limit := f.auth.Config().Throttle.MaxFailures
		h, finish := parallelGuesses(t, n, func(i int) error {
			// From many addresses: only the username's count can stop them.
			_, err := f.auth.Login(ctx, "alice", fmt.Sprintf("guess-%02d", i), auth.ClientInfo{IP: fmt.Sprintf("203.0.113.%d", i+1)})
			return err
		})
		if got := int(h.entered.Load()); got > limit || got == 0 {
			t.Fatalf("%d of %d parallel guesses reached bcrypt, want at most %d", got, n, limit)
		}
		held := h.entered.Load()
		// The right password, while the admitted guesses are still being
		// compared: refused, and not compared.
		if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "198.51.100.1"}); code(err) != apperr.RateLimited {
			t.Fatalf("right password among the guesses: %v, want RATE_LIMITED", err)
		}
		if h.entered.Load() != held {
			t.Fatal("the refused sign-in compared its password")
		}
		codes := finish()
		if codes[apperr.Unauthenticated] != int(held) || codes[apperr.RateLimited] != n-int(held) {
			t.Fatalf("answers %v: want %d UNAUTHENTICATED (compared) and the rest RATE_LIMITED", codes, held)
		}
		// Once they are answered the key stays locked.
		if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "198.51.100.1"}); code(err) != apperr.RateLimited {
			t.Fatalf("right password after the guesses: %v, want RATE_LIMITED", err)
		}
		if got := h.entered.Load(); int(got) > limit {
			t.Fatalf("%d comparisons in all, want at most %d", got, limit)
		}
	})

	t.Run("one address, many usernames", func(t *testing.T) {
		f := setupWith(t, shortBusyWait)
		f.user(t, "alice", "alice-password", false)
		limit := f.auth.Config().Throttle.MaxFailures
		h, finish := parallelGuesses(t, n, func(i int) error {
			_, err := f.auth.Login(ctx, fmt.Sprintf("user%02d", i), "guess-password", auth.ClientInfo{IP: "203.0.113.9"})
			return err
		})
		held := h.entered.Load()
		if int(held) > limit || held == 0 {
			t.Fatalf("%d of %d parallel guesses from one address reached bcrypt, want at most %d", held, n, limit)
		}
		if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "203.0.113.9"}); code(err) != apperr.RateLimited {
			t.Fatalf("right password from the guessing address: %v, want RATE_LIMITED", err)
		}
		finish()
		if h.entered.Load() != held {
			t.Fatal("the refused sign-in compared its password")
		}
		// Another address is not locked.
		if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "203.0.113.10"}); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})

	t.Run("change password", func(t *testing.T) {
		f := setupWith(t, shortBusyWait)
		f.user(t, "alice", "alice-password", false)
		limit := f.auth.Config().Throttle.MaxFailures
		p, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.auth.Authenticate(ctx, p.Token)
		if err != nil {
			t.Fatal(err)
		}
		vctx := viewer.NewContext(ctx, v)
		h, finish := parallelGuesses(t, n, func(i int) error {
			return f.auth.ChangePassword(vctx, fmt.Sprintf("guess-%02d", i), "new-password-1")
		})
		held := h.entered.Load()
		if int(held) > limit || held == 0 {
			t.Fatalf("%d of %d parallel current-password guesses reached bcrypt, want at most %d", held, n, limit)
		}
		if err := f.auth.ChangePassword(vctx, "alice-password", "new-password-1"); code(err) != apperr.RateLimited {
			t.Fatalf("right current password among the guesses: %v, want RATE_LIMITED", err)
		}
		codes := finish()
		if codes[apperr.BadUserInput] != int(held) || codes[apperr.RateLimited] != n-int(held) {
			t.Fatalf("answers %v: want %d BAD_USER_INPUT and the rest RATE_LIMITED", codes, held)
		}
		if h.entered.Load() != held {
			t.Fatal("the refused change compared its password")
		}
	})
}

// TestSuccessGivesItsAttemptBack: a right password is not a failure, so
// signing in again and again never locks, and failures keep counting
// across a success within their window.
func TestSuccessGivesItsAttemptBack(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	ci := auth.ClientInfo{IP: "198.51.100.7"}
	for i := range 6 {
		if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); err != nil {
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
	}
	for i := range 4 {
		if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.Unauthenticated {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); err != nil {
		t.Fatalf("right password after 4 failures: %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.Unauthenticated {
		t.Fatalf("fifth failure: %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); code(err) != apperr.RateLimited {
		t.Fatalf("after 5 failures: %v, want RATE_LIMITED", err)
	}
}

// TestLockEndingWithinWindow: when the lock is shorter than the window, a
// key whose lock ended gets one attempt at a time until the window ends.
func TestLockEndingWithinWindow(t *testing.T) {
	f := setupWith(t, func(c *auth.Config) {
		c.Throttle.Window = 15 * time.Minute
		c.Throttle.Lockout = 5 * time.Minute
	})
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	ci := auth.ClientInfo{}
	for i := range 5 {
		if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.Unauthenticated {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.RateLimited {
		t.Fatalf("locked: %v", err)
	}
	f.clock.add(5*time.Minute + time.Second)
	if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.Unauthenticated {
		t.Fatalf("first attempt after the lock: %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); code(err) != apperr.RateLimited {
		t.Fatalf("second attempt after the lock: %v, want RATE_LIMITED", err)
	}
	f.clock.add(5*time.Minute + time.Second)
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); err != nil {
		t.Fatalf("right password after the second lock: %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "guess", ci); code(err) != apperr.Unauthenticated {
		t.Fatalf("after a success: %v", err)
	}
}

// TestSimultaneousRightPasswordsAllSignIn: more right passwords at once
// than the limit of failures, from one address (an office behind one NAT)
// or for one username, all sign in: attempts that find the key full of
// attempts still being compared wait for them instead of being refused.
func TestSimultaneousRightPasswordsAllSignIn(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		username func(i int) string
	}{
		{"one address, many usernames", func(i int) string { return fmt.Sprintf("user%02d", i) }},
		{"one username", func(int) string { return "alice" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The attempts hash one after the other on a small machine:
			// a wait long enough for all of them, however slow bcrypt
			// runs here (the throttle waits at least as long).
			f := setupWith(t, func(c *auth.Config) { c.Hashing.Wait = time.Minute })
			n := 3 * f.auth.Config().Throttle.MaxFailures
			for i := range n {
				if i == 0 || tt.username(i) != tt.username(0) {
					f.user(t, tt.username(i), "right-password", false)
				}
			}
			errs := make(chan error, n)
			start := make(chan struct{})
			for i := range n {
				go func() {
					<-start
					_, err := f.auth.Login(ctx, tt.username(i), "right-password", auth.ClientInfo{IP: "203.0.113.50"})
					errs <- err
				}()
			}
			close(start)
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("sign-in: %v", err)
				}
			}
			// Nothing was a failure: a wrong password now is the first.
			if _, err := f.auth.Login(ctx, tt.username(0), "wrong-password", auth.ClientInfo{IP: "203.0.113.50"}); code(err) != apperr.Unauthenticated {
				t.Fatalf("a wrong password after them: %v, want UNAUTHENTICATED", err)
			}
		})
	}
}
