// Package turn hands out turns at a resource that only a few may use at
// once (SQLite's one writer, the cores that hash passwords): in arrival
// order, each waiter waiting at most a fixed time.
package turn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrTimeout is returned by Take when the turn did not come within the
// queue's wait.
var ErrTimeout = errors.New("no turn within the wait")

// Queue gives at most n turns at once.
type Queue struct {
	sem     *semaphore.Weighted
	wait    time.Duration
	waiting atomic.Int64
}

// New returns a queue of n turns at once, each waiter waiting at most
// wait.
func New(n int, wait time.Duration) *Queue {
	return &Queue{sem: semaphore.NewWeighted(int64(n)), wait: wait}
}

// Wait is how long a waiter waits at most.
func (q *Queue) Wait() time.Duration { return q.wait }

// Waiting is the number of callers waiting for a turn now.
func (q *Queue) Waiting() int { return int(q.waiting.Load()) }

// Take waits for a turn and returns the function that ends it (safe to
// call more than once). It returns ErrTimeout when the turn did not come
// within the wait, and ctx's error when ctx ended first; a waiter whose
// ctx ends leaves the queue.
func (q *Queue) Take(ctx context.Context) (func(), error) {
	// TryAcquire fails while anyone waits, so it keeps the order.
	if !q.sem.TryAcquire(1) {
		wctx, cancel := context.WithTimeout(ctx, q.wait)
		q.waiting.Add(1)
		err := q.sem.Acquire(wctx, 1)
		q.waiting.Add(-1)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, ErrTimeout
		}
	}
	var once sync.Once
	return func() { once.Do(func() { q.sem.Release(1) }) }, nil
}
