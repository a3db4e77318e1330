package access

import (
	"time"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/usersession"
)

// SessionActive reports whether a session works at now: not revoked, and
// neither its idle expiry nor its absolute cap has passed. Its SQL form is
// SessionActiveAt.
func SessionActive(s *ent.UserSession, now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.MaxExpiresAt)
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
