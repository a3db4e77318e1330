package service

import (
	"context"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/timezone"
)

// CreateUserInput creates a user.
type CreateUserInput struct {
	Username string
	Password string
	Role     *user.Role
	Disabled *bool
}

// UpdateUserInput changes a user; nil fields stay as they are.
type UpdateUserInput struct {
	Username *string
	Password *string
	Role     *user.Role
	Disabled *bool
}

// UsernameMinLen is the shortest username accepted.
const UsernameMinLen = 3

// CheckUsername trims and checks a username.
func CheckUsername(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case len(name) < UsernameMinLen:
		return "", apperr.Invalid("username", "must be at least %d characters", UsernameMinLen)
	case len(name) > schema.UsernameMaxLen:
		return "", apperr.Invalid("username", "must be at most %d characters", schema.UsernameMaxLen)
	case !schema.UsernamePattern.MatchString(name):
		return "", apperr.Invalid("username", "may hold only letters, digits and . _ @ - and must start with a letter or digit")
	}
	return name, nil
}

func checkRole(r *user.Role) error {
	if r != nil {
		if err := user.RoleValidator(*r); err != nil {
			return apperr.Invalid("role", "must be ADMIN or USER")
		}
	}
	return nil
}

// CreateUser creates a user, hashing the password.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, error) {
	name, err := CheckUsername(in.Username)
	if err != nil {
		return nil, err
	}
	if err := checkRole(in.Role); err != nil {
		return nil, err
	}
	hash, err := s.auth.HashContext(ctx, "password", in.Password)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.tx(ctx, func(tx *ent.Tx) error {
		c := tx.User.Create().SetUsername(name).SetPasswordHash(hash).SetNillableDisabled(in.Disabled)
		if in.Role != nil {
			c.SetRole(*in.Role)
		}
		if u, err = c.Save(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "user.created", events.SubjectUser, u.ID, events.Created(map[string]any{
			"username": u.Username, "role": u.Role, "disabled": u.Disabled, "password": events.Redacted,
		}))
	})
	return unwrap(u, err)
}

// UpdateUser changes a user. A new password or disabling the user revokes
// their sessions. The last enabled admin cannot be demoted or disabled,
// even by two admins demoting each other at the same moment: a change that
// may remove an admin locks the enabled admins first (see locks.go).
func (s *Service) UpdateUser(ctx context.Context, id int, in UpdateUserInput) (*ent.User, error) {
	var (
		name string
		hash string
		err  error
	)
	if in.Username != nil {
		if name, err = CheckUsername(*in.Username); err != nil {
			return nil, err
		}
	}
	if err := checkRole(in.Role); err != nil {
		return nil, err
	}
	if in.Password != nil {
		if hash, err = s.auth.HashContext(ctx, "password", *in.Password); err != nil {
			return nil, err
		}
	}
	removesAdmin := (in.Role != nil && *in.Role != user.RoleADMIN) || (in.Disabled != nil && *in.Disabled)
	var u *ent.User
	err = s.tx(ctx, func(tx *ent.Tx) error {
		var admins []int
		if removesAdmin {
			if admins, err = lockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		old, err := lockUser(ctx, tx, id)
		if err != nil {
			return notFound(err, "user", "id")
		}
		if removesAdmin && old.Role == user.RoleADMIN && !old.Disabled {
			if err := keepOneAdmin(admins, id); err != nil {
				return err
			}
		}
		up := tx.User.UpdateOne(old).SetNillableRole(in.Role).SetNillableDisabled(in.Disabled)
		if in.Username != nil {
			up.SetUsername(name)
		}
		if hash != "" {
			up.SetPasswordHash(hash)
		}
		if u, err = up.Save(ctx); err != nil {
			return err
		}
		if d := userDiff(old, u); len(d) > 0 || hash == "" {
			if err := s.record(ctx, tx, "user.updated", events.SubjectUser, id, d); err != nil {
				return err
			}
		}
		if hash != "" {
			d := events.Diff{}
			events.Secret(d, "password")
			if err := s.record(ctx, tx, "user.password_changed", events.SubjectUser, id, d); err != nil {
				return err
			}
		}
		if hash != "" || (in.Disabled != nil && *in.Disabled && !old.Disabled) {
			_, err = s.auth.RevokeUserSessions(ctx, tx, id, 0, s.now())
		}
		return err
	})
	return unwrap(u, err)
}

// keepOneAdmin refuses to remove admin id unless another of the locked
// enabled admins stays.
func keepOneAdmin(admins []int, id int) error {
	for _, a := range admins {
		if a != id {
			return nil
		}
	}
	return apperr.New(apperr.Conflict, "this is the last enabled admin; make another admin first")
}

// DeleteUser deletes a user with their assignments and sessions. The last
// enabled admin cannot be deleted (see UpdateUser).
func (s *Service) DeleteUser(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		// Whether the user is an admin is known only under the lock.
		admins, err := lockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		old, err := lockUser(ctx, tx, id)
		if err != nil {
			return notFound(err, "user", "id")
		}
		if old.Role == user.RoleADMIN && !old.Disabled {
			if err := keepOneAdmin(admins, id); err != nil {
				return err
			}
		}
		if err := tx.User.DeleteOne(old).Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "user.deleted", events.SubjectUser, id, events.Diff{
			"username": {From: old.Username, To: nil}, "role": {From: old.Role, To: nil},
		})
	})
	return id, err
}

// FindUser looks a user up by id or by username (exactly one given).
func (s *Service) FindUser(ctx context.Context, id *int, username *string) (*ent.User, error) {
	var (
		u   *ent.User
		err error
	)
	switch {
	case (id == nil) == (username == nil):
		return nil, apperr.Invalid("id", "give exactly one of id and username")
	case id != nil:
		u, err = s.client.User.Get(ctx, *id)
	default:
		u, err = s.client.User.Query().Where(user.UsernameFold(strings.ToLower(strings.TrimSpace(*username)))).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundf("user not found")
	}
	return u, err
}

// SetTimeZone sets the time zone a user reads times in (the dashboard's
// setting; "" or "UTC" for UTC), recorded as user.updated when it changes.
func (s *Service) SetTimeZone(ctx context.Context, id int, name string) (*ent.User, error) {
	name = strings.TrimSpace(name)
	if name == "UTC" {
		name = ""
	}
	if _, err := timezone.Load(name); err != nil {
		return nil, apperr.Invalid("timeZone", "%s", timezone.ErrUnknown.Error())
	}
	var u *ent.User
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := lockUser(ctx, tx, id)
		if err != nil {
			return notFound(err, "user", "id")
		}
		if old.TimeZone == name {
			u = old
			return nil
		}
		if u, err = tx.User.UpdateOne(old).SetTimeZone(name).Save(ctx); err != nil {
			return err
		}
		d := events.Diff{}
		events.Add(d, "timeZone", old.TimeZone, name)
		return s.record(ctx, tx, "user.updated", events.SubjectUser, id, d)
	})
	return unwrap(u, err)
}
