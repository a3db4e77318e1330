package auth

import (
	"context"
	"fmt"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/events"
	"gatehouse/internal/viewer"
)

// BootstrapUsername is the name of the admin created on a fresh database.
const BootstrapUsername = "admin"

// EnsureAdmin creates the user "admin" with a random password when the
// database has no admin at all, and returns that password (shown once by the
// caller). It returns "" when an admin already exists, or when another
// replica created the first admin at the same moment.
func (s *Service) EnsureAdmin(ctx context.Context) (string, error) {
	// Runs at start-up, before there is any viewer.
	sys := viewer.System(ctx)
	n, err := s.client.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Count(sys)
	if err != nil {
		return "", fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	pw, err := RandomPassword(20)
	if err != nil {
		return "", err
	}
	hash, err := s.HashContext(sys, "password", pw)
	if err != nil {
		return "", err
	}
	err = WithTx(sys, s.client, func(tx *ent.Tx) error {
		u, err := tx.User.Create().
			SetUsername(BootstrapUsername).
			SetPasswordHash(hash).
			SetRole(user.RoleADMIN).
			Save(sys)
		if err != nil {
			return err
		}
		_, err = s.events.Record(sys, tx, events.Entry{
			Type: "user.created", SubjectType: events.SubjectUser, SubjectID: u.ID,
			Changes: events.Created(map[string]any{"username": u.Username, "role": u.Role, "disabled": u.Disabled, "password": events.Redacted}).Set(),
		})
		return err
	})
	if ent.IsConstraintError(err) {
		// Someone else holds the name: another replica's bootstrap, or a
		// user called "admin" who is not an admin.
		n, cerr := s.client.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Count(sys)
		if cerr == nil && n > 0 {
			return "", nil
		}
		return "", fmt.Errorf("no admin exists and the username %q is taken: create an admin with `gatehouse user create --role admin`", BootstrapUsername)
	}
	if err != nil {
		return "", fmt.Errorf("create first admin: %w", err)
	}
	return pw, nil
}
