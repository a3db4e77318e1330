package service

import (
	"time"

	"gatehouse/ent/predicate"
	"gatehouse/internal/access"
)

// Names kept for the lists that filter on the rules; the rules themselves
// live in internal/access.

// UserPackageActiveAt keeps the assignments that grant their package at
// now (ACTIVE or IN_GRACE): the SQL form of UserPackageActive.
func UserPackageActiveAt(now time.Time) predicate.UserPackage { return access.GrantingAt(now) }

// UserPackageUpcomingAt keeps the assignments that start after now.
func UserPackageUpcomingAt(now time.Time) predicate.UserPackage { return access.NotStartedAt(now) }

// UserPackageExpiredAt keeps the assignments that have EXPIRED by now
// (grace period included).
func UserPackageExpiredAt(now time.Time) predicate.UserPackage { return access.ExpiredAt(now) }

// SessionActiveAt keeps the sessions that work at now.
func SessionActiveAt(now time.Time) predicate.UserSession { return access.SessionActiveAt(now) }

// SessionRevoked keeps the sessions that were revoked.
func SessionRevoked() predicate.UserSession { return access.SessionRevoked() }

// SessionExpiredAt keeps the sessions that ran out by now without being
// revoked.
func SessionExpiredAt(now time.Time) predicate.UserSession { return access.SessionExpiredAt(now) }
