package webhooks

import (
	"math/rand/v2"
	"time"
)

// The retry schedule of a delivery.
const (
	// RetryBase is the wait before the second attempt (before jitter);
	// each later wait doubles it.
	RetryBase = 30 * time.Second
	// RetryMaxWait caps one wait (before jitter).
	RetryMaxWait = 6 * time.Hour
	// RetryFor is how long a delivery is retried, counted from its first
	// attempt; an attempt that would come later is not made and the
	// delivery is marked failed.
	RetryFor = 72 * time.Hour
)

// Backoff is the wait after the attempt-th failed attempt (1 for the
// first): RetryBase doubled attempt-1 times, capped at RetryMaxWait, then
// scaled by jitter into its upper half. jitter is in [0, 1); Jitter gives
// a random one. Spreading the waits keeps the retries of many deliveries
// that failed together (a receiver that was down) from arriving together.
func Backoff(attempt int, jitter float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	wait := RetryMaxWait
	if attempt-1 < 20 { // 30 s << 19 is half a year, far past the cap; larger shifts overflow
		if d := RetryBase << (attempt - 1); d < RetryMaxWait {
			wait = d
		}
	}
	jitter = min(max(jitter, 0), 1)
	return wait/2 + time.Duration(float64(wait/2)*jitter)
}

// NextAttempt says when to try a delivery again after its attempt-th
// attempt failed at failedAt, the first having been made at first; retry
// is false when that would be more than RetryFor after the first attempt:
// the delivery has failed for good.
func NextAttempt(first time.Time, attempt int, failedAt time.Time, jitter float64) (next time.Time, retry bool) {
	next = failedAt.Add(Backoff(attempt, jitter))
	if next.Sub(first) > RetryFor {
		return time.Time{}, false
	}
	return next, true
}

// Jitter is a random jitter for Backoff and NextAttempt.
func Jitter() float64 { return rand.Float64() }
