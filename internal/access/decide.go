package access

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Code says why access to a feature was or was not granted.
type Code string

// The access codes. UNKNOWN_FEATURE (no feature has the key asked about)
// is answered before anything else, whatever the user holds; Decide tries
// the others in their order.
const (
	CodeUnknownFeature Code = "UNKNOWN_FEATURE"
	CodeGranted        Code = "GRANTED"
	CodeInGrace        Code = "IN_GRACE"
	CodeNotStarted     Code = "NOT_STARTED"
	CodeSuspended      Code = "SUSPENDED"
	CodeExpired        Code = "EXPIRED"
	CodeFeatureMissing Code = "FEATURE_MISSING"
	CodeNoPackage      Code = "NO_PACKAGE"
)

// Codes lists the codes in the order they are decided: UNKNOWN_FEATURE,
// then those Decide tries.
func Codes() []Code {
	return []Code{CodeUnknownFeature, CodeGranted, CodeInGrace, CodeNotStarted, CodeSuspended, CodeExpired, CodeFeatureMissing, CodeNoPackage}
}

// MarshalGQL writes the code as a GraphQL enum value.
func (c Code) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL reads a GraphQL enum value.
func (c *Code) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("access code must be a string")
	}
	for _, code := range Codes() {
		if Code(s) == code {
			*c = code
			return nil
		}
	}
	return fmt.Errorf("%q is not an access code", s)
}

// Check is the answer to whether a user may use a feature now.
type Check struct {
	Granted bool
	Code    Code
	// ExpiresAt: for GRANTED the latest expiry among the active
	// assignments; for IN_GRACE the latest expiry among those in grace;
	// for EXPIRED the latest expiry of all.
	ExpiresAt *time.Time
	// StartsAt: for NOT_STARTED the earliest start.
	StartsAt *time.Time
	// GraceUntil: for IN_GRACE when the latest grace period ends.
	GraceUntil *time.Time
	// Limit: for GRANTED and IN_GRACE the highest limit among the
	// assignments that grant (nil when none has one).
	Limit *int
}

// Decide answers a check of one feature at now, from whether the user holds
// any package at all and the assignments whose package holds the feature.
// The codes are tried in this order:
//
//  1. GRANTED: some assignment is active;
//  2. IN_GRACE (granted): none active, some in grace;
//  3. NOT_STARTED: some starts later;
//  4. SUSPENDED: some would be active or in grace but is suspended;
//  5. EXPIRED: all have expired (grace included);
//  6. FEATURE_MISSING: the user holds packages, none with the feature;
//  7. NO_PACKAGE: the user holds no package.
func Decide(holdsAnyPackage bool, withFeature []Assignment, now time.Time) Check {
	if len(withFeature) == 0 {
		if holdsAnyPackage {
			return Check{Code: CodeFeatureMissing}
		}
		return Check{Code: CodeNoPackage}
	}
	var by [5][]Assignment
	for _, a := range withFeature {
		by[stateIndex(StateOf(a, now))] = append(by[stateIndex(StateOf(a, now))], a)
	}
	if as := by[stateIndex(StateActive)]; len(as) > 0 {
		return Check{Granted: true, Code: CodeGranted, ExpiresAt: latestOf(as, expiresAt), Limit: highestLimit(as)}
	}
	if as := by[stateIndex(StateInGrace)]; len(as) > 0 {
		return Check{Granted: true, Code: CodeInGrace, ExpiresAt: latestOf(as, expiresAt), GraceUntil: latestOf(as, graceEndsAt), Limit: highestLimit(as)}
	}
	if as := by[stateIndex(StateNotStarted)]; len(as) > 0 {
		return Check{Code: CodeNotStarted, StartsAt: earliestStart(as)}
	}
	if len(by[stateIndex(StateSuspended)]) > 0 {
		return Check{Code: CodeSuspended}
	}
	return Check{Code: CodeExpired, ExpiresAt: latestOf(withFeature, expiresAt)}
}

func stateIndex(s State) int {
	switch s {
	case StateActive:
		return 0
	case StateInGrace:
		return 1
	case StateNotStarted:
		return 2
	case StateSuspended:
		return 3
	}
	return 4
}

func expiresAt(a Assignment) time.Time   { return a.ExpiresAt }
func graceEndsAt(a Assignment) time.Time { return a.GraceEndsAt }

func latestOf(as []Assignment, at func(Assignment) time.Time) *time.Time {
	out := at(as[0])
	for _, a := range as[1:] {
		if t := at(a); t.After(out) {
			out = t
		}
	}
	return &out
}

func earliestStart(as []Assignment) *time.Time {
	out := as[0].StartsAt
	for _, a := range as[1:] {
		if a.StartsAt.Before(out) {
			out = a.StartsAt
		}
	}
	return &out
}

func highestLimit(as []Assignment) *int {
	var out *int
	for _, a := range as {
		if a.Limit != nil && (out == nil || *a.Limit > *out) {
			v := *a.Limit
			out = &v
		}
	}
	return out
}
