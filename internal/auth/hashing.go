package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/internal/apperr"
	"gatehouse/internal/turn"
)

// HashingConfig bounds password hashing. Each bcrypt operation (a
// comparison at sign-in, a hash of a new password) keeps a core busy for
// tens of milliseconds; a flood of sign-ins would otherwise take every
// core and starve the requests that only read.
type HashingConfig struct {
	// Concurrency is how many bcrypt operations run at once; 0 or less:
	// DefaultHashConcurrency.
	Concurrency int
	// Wait is how long an operation waits for its turn, in arrival order,
	// before it is refused with RATE_LIMITED; 0 or less: 5 s.
	Wait time.Duration
}

// DefaultHashWait is how long a password waits for its turn to be hashed
// when nothing is set.
const DefaultHashWait = 5 * time.Second

// DefaultHashConcurrency is half the cores Go may use (GOMAXPROCS), at
// least one: on two cores one core hashes passwords and one is left for
// everything else.
func DefaultHashConcurrency() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// hashGate lets a bounded number of bcrypt operations run at once; the
// others wait, first come first served, for at most wait.
type hashGate struct {
	turns *turn.Queue
	// running counts the operations under way.
	running atomic.Int64
	// hook, when set (by tests, before use), is called inside every
	// operation with the number running at that moment.
	hook func(running int)
}

func newHashGate(cfg HashingConfig) *hashGate {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultHashConcurrency()
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultHashWait
	}
	return &hashGate{turns: turn.New(cfg.Concurrency, cfg.Wait)}
}

// errHashBusy answers an operation that waited its whole turn.
var errHashBusy = apperr.New(apperr.RateLimited, "the server is busy checking other passwords; try again in a few seconds")

// do runs fn, a bcrypt operation, in its turn. It returns errHashBusy when
// the turn did not come within the wait, and ctx's error when ctx ended
// first; fn has then not run. A waiter whose ctx ends leaves the queue.
func (g *hashGate) do(ctx context.Context, fn func()) error {
	release, err := g.turns.Take(ctx)
	if errors.Is(err, turn.ErrTimeout) {
		return errHashBusy
	}
	if err != nil {
		return err
	}
	defer release()
	n := g.running.Add(1)
	defer g.running.Add(-1)
	if g.hook != nil {
		g.hook(int(n))
	}
	fn()
	return nil
}

// compare compares pw with a bcrypt hash in its turn; ok is false when
// the turn did not come (err says why).
func (g *hashGate) compare(ctx context.Context, hash, pw string) (ok bool, err error) {
	err = g.do(ctx, func() { ok = passwordMatches(hash, pw) })
	return ok, err
}

// hash hashes a new password (already checked against the rules) in its
// turn.
func (g *hashGate) hash(ctx context.Context, pw string, cost int) (h string, err error) {
	if derr := g.do(ctx, func() {
		var b []byte
		b, err = bcrypt.GenerateFromPassword([]byte(pw), cost)
		h = string(b)
	}); derr != nil {
		return "", derr
	}
	return h, err
}

// bcryptEncoding is bcrypt's own base64 alphabet, without padding.
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// dummyHash returns a well-formed bcrypt hash of the given cost, with a
// random salt and a random digest, that no password matches. Comparing a
// password with it costs what comparing with a real hash of that cost
// does (bcrypt hashes the password with the salt and cost it reads, then
// compares), so an unknown username takes as long as a wrong password,
// without hashing anything at start-up.
func dummyHash(cost int) (string, error) {
	salt := make([]byte, 16)   // 22 characters
	digest := make([]byte, 23) // 31 characters
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if _, err := rand.Read(digest); err != nil {
		return "", err
	}
	h := fmt.Sprintf("$2a$%02d$%s%s", cost, bcryptEncoding.EncodeToString(salt), bcryptEncoding.EncodeToString(digest))
	if c, err := bcrypt.Cost([]byte(h)); err != nil || c != cost {
		return "", fmt.Errorf("dummy bcrypt hash: cost %d, %v", c, err)
	}
	return h, nil
}
