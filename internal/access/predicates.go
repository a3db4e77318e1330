package access

import (
	"context"
	"fmt"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/userpackage"
)

// The SQL forms of StateOf, one per state: each keeps exactly the rows
// StateOf puts in that state at now (the tests hold them to each other).
// A NULL grace_ends_at (a row from an older release, until the next
// migration fills it) counts as expires_at, as in FromUserPackage.

// NotStartedAt keeps the assignments that start after now.
func NotStartedAt(now time.Time) predicate.UserPackage {
	return userpackage.StartsAtGT(now)
}

// ActiveAt keeps the assignments that have started, not expired and are
// not suspended at now.
func ActiveAt(now time.Time) predicate.UserPackage {
	return userpackage.And(
		userpackage.StartsAtLTE(now),
		userpackage.ExpiresAtGT(now),
		userpackage.SuspendedAtIsNil(),
	)
}

// InGraceAt keeps the assignments that expired by now but whose grace
// period has not ended, and that are not suspended.
func InGraceAt(now time.Time) predicate.UserPackage {
	return userpackage.And(
		userpackage.StartsAtLTE(now),
		userpackage.ExpiresAtLTE(now),
		userpackage.GraceEndsAtGT(now),
		userpackage.SuspendedAtIsNil(),
	)
}

// SuspendedAt keeps the suspended assignments that would otherwise be
// active or in grace at now.
func SuspendedAt(now time.Time) predicate.UserPackage {
	return userpackage.And(
		userpackage.StartsAtLTE(now),
		userpackage.Or(userpackage.ExpiresAtGT(now), userpackage.GraceEndsAtGT(now)),
		userpackage.SuspendedAtNotNil(),
	)
}

// ExpiredAt keeps the assignments whose expiry and grace period have both
// passed by now, suspended or not.
func ExpiredAt(now time.Time) predicate.UserPackage {
	return userpackage.And(
		userpackage.StartsAtLTE(now),
		userpackage.ExpiresAtLTE(now),
		userpackage.Or(userpackage.GraceEndsAtIsNil(), userpackage.GraceEndsAtLTE(now)),
	)
}

// GrantingAt keeps the assignments that grant their package at now:
// active or in grace.
func GrantingAt(now time.Time) predicate.UserPackage {
	return userpackage.Or(ActiveAt(now), InGraceAt(now))
}

// StateAt keeps the assignments in state s at now.
func StateAt(s State, now time.Time) predicate.UserPackage {
	switch s {
	case StateActive:
		return ActiveAt(now)
	case StateNotStarted:
		return NotStartedAt(now)
	case StateInGrace:
		return InGraceAt(now)
	case StateSuspended:
		return SuspendedAt(now)
	case StateExpired:
		return ExpiredAt(now)
	}
	panic(fmt.Sprintf("access: unknown state %q", s))
}

// Granting reads the user's assignments that grant their package at now,
// with the package's contents and their features: what every answer
// about a user's features (checkAccess, activeFeatures, entitlement
// tokens) is decided from.
func Granting(ctx context.Context, client *ent.Client, userID int, now time.Time) ([]*ent.UserPackage, error) {
	return client.UserPackage.Query().
		Where(userpackage.UserID(userID), GrantingAt(now)).
		WithPackage(func(q *ent.PkgQuery) {
			q.WithContents(func(q *ent.PackageContentQuery) { q.WithFeature() })
		}).
		All(ctx)
}
