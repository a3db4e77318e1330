// Package access is the one home of Gatehouse's access rules: when an
// assignment of a package (and so each feature it holds) grants access,
// and which code answers a check. Each rule is written twice side by side,
// as a Go function over values and as an ent predicate over rows, and the
// tests hold the two forms to each other. Nothing else in Gatehouse
// decides whether an assignment or a session is active.
package access

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"gatehouse/ent"
)

// Day is the length of a day in assignments and grace periods.
const Day = 24 * time.Hour

// latest is the latest time a derived time is allowed to reach: later
// years do not keep their order as text in SQLite.
var latest = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// State is where an assignment stands at a moment.
type State string

// The states of an assignment. Every assignment is in exactly one at any
// moment:
//
//   - NOT_STARTED: it starts later (suspended or not);
//   - ACTIVE: started, not expired, not suspended;
//   - IN_GRACE: expired less than its package's grace days ago, not
//     suspended;
//   - SUSPENDED: it would be ACTIVE or IN_GRACE but is suspended;
//   - EXPIRED: its grace period (if any) is over too (suspended or not).
const (
	StateActive     State = "ACTIVE"
	StateNotStarted State = "NOT_STARTED"
	StateInGrace    State = "IN_GRACE"
	StateSuspended  State = "SUSPENDED"
	StateExpired    State = "EXPIRED"
)

// States lists every state.
func States() []State {
	return []State{StateActive, StateNotStarted, StateInGrace, StateSuspended, StateExpired}
}

// Grants reports whether an assignment in this state grants its package.
func (s State) Grants() bool { return s == StateActive || s == StateInGrace }

// MarshalGQL writes the state as a GraphQL enum value.
func (s State) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *State) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("assignment state must be a string")
	}
	for _, st := range States() {
		if State(str) == st {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("%q is not an assignment state", str)
}

// Assignment is what the rules read of an assignment.
type Assignment struct {
	StartsAt    time.Time
	ExpiresAt   time.Time
	GraceEndsAt time.Time
	Suspended   bool
	// Limit is the assignment's limit of the feature being checked, for
	// features that have one (nil: no limit).
	Limit *int
}

// FromUserPackage is the Assignment of a stored assignment (without a
// limit). A grace end never written (a row from an older release) is the
// expiry: no grace.
func FromUserPackage(up *ent.UserPackage) Assignment {
	grace := up.GraceEndsAt
	if grace.IsZero() {
		grace = up.ExpiresAt
	}
	return Assignment{
		StartsAt:    up.StartsAt,
		ExpiresAt:   up.ExpiresAt,
		GraceEndsAt: grace,
		Suspended:   up.SuspendedAt != nil,
	}
}

// GraceEnd is when the grace period of an assignment expiring at expires
// ends, for a package with graceDays: what grace_ends_at holds.
func GraceEnd(expires time.Time, graceDays int) time.Time {
	end := expires.Add(time.Duration(graceDays) * Day)
	if end.After(latest) && !expires.After(latest) {
		return latest
	}
	return end
}

// StateOf is the state of a at now. Its SQL form is StateAt.
func StateOf(a Assignment, now time.Time) State {
	switch {
	case now.Before(a.StartsAt):
		return StateNotStarted
	case a.Suspended && (now.Before(a.ExpiresAt) || now.Before(a.GraceEndsAt)):
		return StateSuspended
	case now.Before(a.ExpiresAt):
		return StateActive
	case now.Before(a.GraceEndsAt):
		return StateInGrace
	default:
		return StateExpired
	}
}
