package service

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/events"
)

// IssueSessionInput issues a token for a user.
type IssueSessionInput struct {
	UserID    int
	ExpiresAt *time.Time
	Label     *string
}

// IssueSession opens a session for a user, as an admin; the token in the
// payload is shown once.
func (s *Service) IssueSession(ctx context.Context, in IssueSessionInput, ci auth.ClientInfo) (*auth.Payload, error) {
	label := ""
	if in.Label != nil {
		var err error
		if label, err = text("label", *in.Label, false, 200); err != nil {
			return nil, err
		}
	}
	return s.auth.IssueSession(ctx, in.UserID, in.ExpiresAt, label, ci)
}

// SetSessionExpiry sets when a session ends: its expiry and its absolute
// cap both become expiresAt, so use no longer slides it past that time.
func (s *Service) SetSessionExpiry(ctx context.Context, id int, expiresAt time.Time) (*ent.UserSession, error) {
	var out *ent.UserSession
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.UserSession.Get(ctx, id)
		if err != nil {
			return notFound(err, "session", "id")
		}
		limit := s.now().Add(s.auth.Config().AbsoluteTimeout)
		if expiresAt.After(limit) {
			return apperr.Invalid("expiresAt", "must be within %s from now", s.auth.Config().AbsoluteTimeout)
		}
		if !expiresAt.After(old.CreatedAt) {
			return apperr.Invalid("expiresAt", "must be after the session was created")
		}
		if out, err = tx.UserSession.UpdateOne(old).SetExpiresAt(schema.Timestamp(expiresAt)).SetMaxExpiresAt(schema.Timestamp(expiresAt)).Save(ctx); err != nil {
			return err
		}
		d := events.Diff{}
		events.AddTime(d, "expiresAt", old.ExpiresAt, out.ExpiresAt)
		events.AddTime(d, "maxExpiresAt", old.MaxExpiresAt, out.MaxExpiresAt)
		return s.record(ctx, tx, "session.updated", events.SubjectSession, id, d)
	})
	return unwrap(out, err)
}

// RevokeAllSessions revokes every active session of a user (as an admin).
func (s *Service) RevokeAllSessions(ctx context.Context, userID int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.User.Get(ctx, userID); err != nil {
			return notFound(err, "user", "userID")
		}
		var err error
		n, err = s.auth.RevokeUserSessions(ctx, tx, userID, 0, s.now())
		return err
	})
	return n, err
}

// DeleteUserSession deletes a session record.
func (s *Service) DeleteUserSession(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.UserSession.Get(ctx, id)
		if err != nil {
			return notFound(err, "session", "id")
		}
		if err := tx.UserSession.DeleteOne(old).Exec(ctx); err != nil {
			return notFound(err, "session", "id")
		}
		return s.record(ctx, tx, "session.deleted", events.SubjectSession, id, events.Diff{"userID": {From: old.UserID, To: nil}})
	})
	return id, err
}
