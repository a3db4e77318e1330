package webhooks_test

import (
	"testing"
	"time"

	"gatehouse/internal/webhooks"
)

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 15 * time.Second},
		{1, 0.5, 22500 * time.Millisecond},
		{1, 1, 30 * time.Second},
		{2, 0, 30 * time.Second},
		{2, 1, time.Minute},
		{3, 1, 2 * time.Minute},
		{5, 1, 8 * time.Minute},
		{10, 1, 256 * time.Minute},
		{11, 1, 6 * time.Hour}, // 512 min capped
		{11, 0, 3 * time.Hour},
		{40, 1, 6 * time.Hour},
		{1000, 0.5, 4*time.Hour + 30*time.Minute},
		{0, 1, 30 * time.Second},   // treated as the first
		{1, -3, 15 * time.Second},  // jitter clamped
		{1, 7, 30 * time.Second},   // jitter clamped
		{64, 1, 6 * time.Hour},     // no overflow
		{100000, 1, 6 * time.Hour}, // no overflow
		{30, 0, 3 * time.Hour},
		{34, 1, 6 * time.Hour},
	} {
		if got := webhooks.Backoff(tt.attempt, tt.jitter); got != tt.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

func TestNextAttempt(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		attempt  int
		failedAt time.Time
		jitter   float64
		want     time.Time
		retry    bool
	}{
		{"first failure", 1, first, 1, first.Add(30 * time.Second), true},
		{"third failure", 3, first.Add(2 * time.Minute), 0, first.Add(3 * time.Minute), true},
		{"next lands exactly at 3 days", 12, first.Add(66 * time.Hour), 1, first.Add(72 * time.Hour), true},
		{"next lands past 3 days", 12, first.Add(66*time.Hour + time.Second), 1, time.Time{}, false},
		{"failure after 3 days", 20, first.Add(73 * time.Hour), 0, time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, retry := webhooks.NextAttempt(first, tt.attempt, tt.failedAt, tt.jitter)
			if retry != tt.retry || !got.Equal(tt.want) {
				t.Fatalf("NextAttempt = %v, %v; want %v, %v", got, retry, tt.want, tt.retry)
			}
		})
	}

	// Walking the schedule: attempts keep coming for 3 days (at the
	// slowest and fastest jitter) and then stop; no wait exceeds 6 h.
	for _, jitter := range []float64{0, 0.999} {
		at, attempts := first, 1
		for {
			next, retry := webhooks.NextAttempt(first, attempts, at, jitter)
			if !retry {
				break
			}
			if next.Sub(at) > webhooks.RetryMaxWait || !next.After(at) {
				t.Fatalf("jitter %v: wait %v after attempt %d", jitter, next.Sub(at), attempts)
			}
			at, attempts = next, attempts+1
		}
		if end := at.Sub(first); end > 72*time.Hour || end < 72*time.Hour-webhooks.RetryMaxWait {
			t.Errorf("jitter %v: the last attempt is %v after the first, want within the last 6 h of 3 days", jitter, end)
		}
		if attempts < 15 || attempts > 40 {
			t.Errorf("jitter %v: %d attempts in 3 days", jitter, attempts)
		}
	}
}
