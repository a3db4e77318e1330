package service

import (
	"time"

	"gatehouse/ent/predicate"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
)

// The SQL forms of the "active" rules, for lists that filter on them. Each
// keeps exactly the rows its Go form (UserPackageActive, auth.SessionActive)
// calls active at now; keep the pairs in step.

// UserPackageActiveAt keeps the assignments that grant their package at now.
func UserPackageActiveAt(now time.Time) predicate.UserPackage {
	return userpackage.And(userpackage.StartsAtLTE(now), userpackage.ExpiresAtGT(now))
}

// UserPackageUpcomingAt keeps the assignments that start after now.
func UserPackageUpcomingAt(now time.Time) predicate.UserPackage {
	return userpackage.StartsAtGT(now)
}

// UserPackageExpiredAt keeps the assignments that have ended by now.
func UserPackageExpiredAt(now time.Time) predicate.UserPackage {
	return userpackage.ExpiresAtLTE(now)
}

// SessionActiveAt keeps the sessions that work at now.
func SessionActiveAt(now time.Time) predicate.UserSession {
	return usersession.And(
		usersession.RevokedAtIsNil(),
		usersession.ExpiresAtGT(now),
		usersession.MaxExpiresAtGT(now),
	)
}

// SessionRevoked keeps the sessions that were revoked.
func SessionRevoked() predicate.UserSession {
	return usersession.RevokedAtNotNil()
}

// SessionExpiredAt keeps the sessions that ran out by now without being
// revoked.
func SessionExpiredAt(now time.Time) predicate.UserSession {
	return usersession.And(
		usersession.RevokedAtIsNil(),
		usersession.Or(usersession.ExpiresAtLTE(now), usersession.MaxExpiresAtLTE(now)),
	)
}
