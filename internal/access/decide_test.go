package access_test

import (
	"strconv"
	"testing"
	"time"

	"gatehouse/internal/access"
)

var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * access.Day) }

func intp(v int) *int { return &v }

// asg is an assignment from start to expiry (days from t0), with grace
// graceDays after it.
func asg(start, expires, graceDays int) access.Assignment {
	return access.Assignment{StartsAt: day(start), ExpiresAt: day(expires), GraceEndsAt: access.GraceEnd(day(expires), graceDays)}
}

func suspended(a access.Assignment) access.Assignment { a.Suspended = true; return a }

func limited(a access.Assignment, n int) access.Assignment { a.Limit = intp(n); return a }

func TestStateOf(t *testing.T) {
	a := asg(-10, 10, 5)
	cases := []struct {
		name string
		a    access.Assignment
		now  time.Time
		want access.State
	}{
		{"before the start", a, day(-11), access.StateNotStarted},
		{"at the start", a, day(-10), access.StateActive},
		{"just before the expiry", a, day(10).Add(-time.Microsecond), access.StateActive},
		{"at the expiry", a, day(10), access.StateInGrace},
		{"just before the grace end", a, day(15).Add(-time.Microsecond), access.StateInGrace},
		{"at the grace end", a, day(15), access.StateExpired},
		{"no grace: at the expiry", asg(-10, 10, 0), day(10), access.StateExpired},
		{"suspended before the start", suspended(a), day(-11), access.StateNotStarted},
		{"suspended while active", suspended(a), day(0), access.StateSuspended},
		{"suspended in grace", suspended(a), day(12), access.StateSuspended},
		{"suspended after the grace end", suspended(a), day(15), access.StateExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := access.StateOf(c.a, c.now); got != c.want {
				t.Fatalf("StateOf = %s, want %s", got, c.want)
			}
			if got, want := access.StateOf(c.a, c.now).Grants(), c.want == access.StateActive || c.want == access.StateInGrace; got != want {
				t.Fatalf("Grants = %v, want %v", got, want)
			}
		})
	}
}

func TestGraceEndStaysWithinYear9999(t *testing.T) {
	exp := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := access.GraceEnd(exp, 365); got.Year() != 9999 || got.Before(exp) {
		t.Fatalf("GraceEnd = %v", got)
	}
}

func TestDecide(t *testing.T) {
	tp := func(n int) *time.Time { v := day(n); return &v }
	now := t0
	cases := []struct {
		name  string
		holds bool
		with  []access.Assignment
		want  access.Check
	}{
		{"no package", false, nil, access.Check{Code: access.CodeNoPackage}},
		{"feature missing", true, nil, access.Check{Code: access.CodeFeatureMissing}},
		{"granted", true, []access.Assignment{asg(-1, 5, 0)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(5)}},
		{"granted: the latest expiry among the active", true, []access.Assignment{asg(-1, 5, 0), asg(-3, 9, 0), asg(-30, -2, 0), asg(2, 40, 0)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(9)}},
		{"granted: equal expiries", true, []access.Assignment{asg(-1, 5, 0), asg(-3, 5, 2)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(5)}},
		{"granted: the highest limit among the active", true, []access.Assignment{limited(asg(-1, 5, 0), 3), limited(asg(-2, 4, 0), 10), limited(asg(-9, -1, 30), 50), limited(suspended(asg(-1, 9, 0)), 70)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(5), Limit: intp(10)}},
		{"granted: an active and a suspended one", true, []access.Assignment{suspended(asg(-1, 20, 0)), asg(-1, 5, 0)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(5)}},
		{"granted over grace", true, []access.Assignment{asg(-10, -1, 30), asg(-1, 5, 0)},
			access.Check{Granted: true, Code: access.CodeGranted, ExpiresAt: tp(5)}},
		{"in grace", true, []access.Assignment{asg(-10, -1, 3)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(-1), GraceUntil: tp(2)}},
		{"in grace: the latest grace end", true, []access.Assignment{asg(-10, -1, 3), asg(-10, -2, 10), asg(-20, -10, 1)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(-1), GraceUntil: tp(8)}},
		{"in grace: limit over those in grace", true, []access.Assignment{limited(asg(-10, -1, 3), 4), limited(asg(-10, -2, 10), 2), limited(asg(-20, -10, 1), 99)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(-1), GraceUntil: tp(8), Limit: intp(4)}},
		{"in grace overlapping a later start", true, []access.Assignment{asg(-10, -1, 5), asg(2, 30, 0)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(-1), GraceUntil: tp(4)}},
		{"in grace at its very start", true, []access.Assignment{asg(-10, 0, 1)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(0), GraceUntil: tp(1)}},
		{"not started", true, []access.Assignment{asg(3, 10, 0), asg(2, 5, 0), asg(-9, -5, 0)},
			access.Check{Code: access.CodeNotStarted, StartsAt: tp(2)}},
		{"not started: equal starts", true, []access.Assignment{asg(2, 10, 0), asg(2, 5, 0)},
			access.Check{Code: access.CodeNotStarted, StartsAt: tp(2)}},
		{"not started before suspended", true, []access.Assignment{suspended(asg(-1, 10, 0)), asg(2, 5, 0)},
			access.Check{Code: access.CodeNotStarted, StartsAt: tp(2)}},
		{"a suspended one not started yet is not started", true, []access.Assignment{suspended(asg(2, 5, 0))},
			access.Check{Code: access.CodeNotStarted, StartsAt: tp(2)}},
		{"suspended", true, []access.Assignment{suspended(asg(-1, 10, 0)), asg(-9, -5, 0)},
			access.Check{Code: access.CodeSuspended}},
		{"suspended in grace", true, []access.Assignment{suspended(asg(-10, -1, 5))},
			access.Check{Code: access.CodeSuspended}},
		{"suspended in grace, another in grace", true, []access.Assignment{suspended(asg(-10, -1, 9)), asg(-10, -2, 5)},
			access.Check{Granted: true, Code: access.CodeInGrace, ExpiresAt: tp(-2), GraceUntil: tp(3)}},
		{"suspended after its grace is expired", true, []access.Assignment{suspended(asg(-10, -5, 2))},
			access.Check{Code: access.CodeExpired, ExpiresAt: tp(-5)}},
		{"expired: the latest expiry", true, []access.Assignment{asg(-10, -5, 0), asg(-10, -2, 1), suspended(asg(-30, -1, 0))},
			access.Check{Code: access.CodeExpired, ExpiresAt: tp(-1)}},
		{"expired: equal expiries", true, []access.Assignment{asg(-10, -2, 0), asg(-8, -2, 0)},
			access.Check{Code: access.CodeExpired, ExpiresAt: tp(-2)}},
		{"expired at the grace end", true, []access.Assignment{asg(-10, -3, 3)},
			access.Check{Code: access.CodeExpired, ExpiresAt: tp(-3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := access.Decide(c.holds, c.with, now)
			if !sameCheck(got, c.want) {
				t.Fatalf("Decide =\n %s\nwant\n %s", show(got), show(c.want))
			}
			// The order of the assignments does not matter.
			rev := make([]access.Assignment, len(c.with))
			for i, a := range c.with {
				rev[len(c.with)-1-i] = a
			}
			if got := access.Decide(c.holds, rev, now); !sameCheck(got, c.want) {
				t.Fatalf("reversed: Decide =\n %s\nwant\n %s", show(got), show(c.want))
			}
		})
	}
}

func sameCheck(a, b access.Check) bool {
	return a.Granted == b.Granted && a.Code == b.Code &&
		sameTime(a.ExpiresAt, b.ExpiresAt) && sameTime(a.StartsAt, b.StartsAt) && sameTime(a.GraceUntil, b.GraceUntil) &&
		((a.Limit == nil) == (b.Limit == nil)) && (a.Limit == nil || *a.Limit == *b.Limit)
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func show(c access.Check) string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.DateOnly)
	}
	l := "-"
	if c.Limit != nil {
		l = strconv.Itoa(*c.Limit)
	}
	return string(c.Code) + " granted=" + map[bool]string{true: "yes", false: "no"}[c.Granted] +
		" expires=" + f(c.ExpiresAt) + " starts=" + f(c.StartsAt) + " grace=" + f(c.GraceUntil) + " limit=" + l
}
