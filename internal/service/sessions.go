package service

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
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
		out, err = tx.UserSession.UpdateOne(old).SetExpiresAt(schema.Timestamp(expiresAt)).SetMaxExpiresAt(schema.Timestamp(expiresAt)).Save(ctx)
		return err
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
		n, err = auth.RevokeUserSessions(ctx, tx.Client(), userID, 0, s.now())
		return err
	})
	return n, err
}

// DeleteUserSession deletes a session record.
func (s *Service) DeleteUserSession(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		return notFound(tx.UserSession.DeleteOneID(id).Exec(ctx), "session", "id")
	})
	return id, err
}
