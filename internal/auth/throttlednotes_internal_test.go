package auth

import (
	"fmt"
	"testing"
	"time"
)

// TestThrottledRefusalsRecordedOnceAMinute: refusals of a username from an
// address are recorded once per throttledNoteEvery; other usernames and
// addresses have their own minute, and the notes stay bounded.
func TestThrottledRefusalsRecordedOnceAMinute(t *testing.T) {
	var n throttledNotes
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"alice\x00192.0.2.1", 0, true},
		{"alice\x00192.0.2.1", time.Second, false},
		{"alice\x00192.0.2.2", time.Second, true},
		{"bob\x00192.0.2.1", time.Second, true},
		{"alice\x00192.0.2.1", throttledNoteEvery - time.Nanosecond, false},
		{"alice\x00192.0.2.1", throttledNoteEvery, true},
		{"alice\x00192.0.2.1", throttledNoteEvery + time.Second, false},
	} {
		if got := n.due(c.key, t0.Add(c.at)); got != c.want {
			t.Fatalf("%q at +%v: due %v, want %v", c.key, c.at, got, c.want)
		}
	}
	for i := range 3 * maxThrottledNotes {
		n.due(fmt.Sprint("user", i, "\x00192.0.2.9"), t0)
		if len(n.m) > maxThrottledNotes {
			t.Fatalf("%d notes kept, at most %d wanted", len(n.m), maxThrottledNotes)
		}
	}
}
