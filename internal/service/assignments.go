package service

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apperr"
)

// AssignPackageInput assigns a package to a user.
type AssignPackageInput struct {
	UserID    int
	PackageID int
	// Days defaults to the package's days.
	Days *int
	// StartsAt defaults to now.
	StartsAt *time.Time
}

// UpdateUserPackageInput changes an assignment; nil fields stay as they are.
type UpdateUserPackageInput struct {
	StartsAt   *time.Time
	ExpiresAt  *time.Time
	ExtendDays *int
}

// UserPackageActive reports whether an assignment grants its package at now.
func UserPackageActive(up *ent.UserPackage, now time.Time) bool {
	return !now.Before(up.StartsAt) && now.Before(up.ExpiresAt)
}

// AssignPackage assigns a package to a user for days (default: the
// package's) from startsAt (default: now). If the user already holds the
// package and it has not expired, that assignment is extended by days
// instead. The user's row is locked meanwhile, so parallel calls for one
// user make one assignment and extend it by each call's days.
func (s *Service) AssignPackage(ctx context.Context, in AssignPackageInput) (*ent.UserPackage, error) {
	if in.Days != nil {
		if err := checkDays("days", *in.Days); err != nil {
			return nil, err
		}
	}
	var up *ent.UserPackage
	err := s.tx(ctx, func(tx *ent.Tx) error {
		if _, err := lockUser(ctx, tx, in.UserID); err != nil {
			return notFound(err, "user", "userID")
		}
		p, err := tx.Pkg.Get(ctx, in.PackageID)
		if err != nil {
			return notFound(err, "package", "packageID")
		}
		days := p.Days
		if in.Days != nil {
			days = *in.Days
		}
		now := s.now()
		held, err := tx.UserPackage.Query().
			Where(
				userpackage.UserID(in.UserID),
				userpackage.PackageID(in.PackageID),
				userpackage.ExpiresAtGT(now),
			).
			Order(ent.Desc(userpackage.FieldExpiresAt)).
			First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		if held != nil {
			exp, err := addDays(held.ExpiresAt, days)
			if err != nil {
				return err
			}
			up, err = tx.UserPackage.UpdateOne(held).SetExpiresAt(exp).Save(ctx)
			return err
		}
		start := now
		if in.StartsAt != nil {
			start = schema.Timestamp(*in.StartsAt)
		}
		exp, err := addDays(start, days)
		if err != nil {
			return err
		}
		up, err = tx.UserPackage.Create().
			SetUserID(in.UserID).
			SetPackageID(in.PackageID).
			SetStartsAt(start).
			SetExpiresAt(exp).
			Save(ctx)
		return err
	})
	return unwrap(up, err)
}

// maxExpiry keeps stored times within what every database holds.
var maxExpiry = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func addDays(t time.Time, days int) (time.Time, error) {
	out := t.Add(time.Duration(days) * Day)
	if out.After(maxExpiry) {
		return time.Time{}, apperr.Invalid("days", "the expiry would be after the year 9999")
	}
	return out, nil
}

// UpdateUserPackage changes an assignment's start or expiry, or extends it
// by ExtendDays (from now, if it has already expired). It locks the user's
// row like AssignPackage, so parallel extensions add up.
func (s *Service) UpdateUserPackage(ctx context.Context, id int, in UpdateUserPackageInput) (*ent.UserPackage, error) {
	if in.ExtendDays != nil {
		if in.ExpiresAt != nil {
			return nil, apperr.Invalid("extendDays", "give either expiresAt or extendDays, not both")
		}
		if err := checkDays("extendDays", *in.ExtendDays); err != nil {
			return nil, err
		}
	}
	for field, t := range map[string]*time.Time{"startsAt": in.StartsAt, "expiresAt": in.ExpiresAt} {
		if t != nil && t.After(maxExpiry) {
			return nil, apperr.Invalid(field, "must be before the year 9999")
		}
	}
	var up *ent.UserPackage
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.UserPackage.Get(ctx, id)
		if err != nil {
			return notFound(err, "user package", "id")
		}
		if _, err := lockUser(ctx, tx, old.UserID); err != nil {
			return notFound(err, "user package", "id")
		}
		// Read again under the lock: another change may have come first.
		if old, err = tx.UserPackage.Get(ctx, id); err != nil {
			return notFound(err, "user package", "id")
		}
		u := tx.UserPackage.UpdateOne(old)
		if in.StartsAt != nil {
			u.SetStartsAt(schema.Timestamp(*in.StartsAt))
		}
		if in.ExpiresAt != nil {
			u.SetExpiresAt(schema.Timestamp(*in.ExpiresAt))
		}
		if in.ExtendDays != nil {
			from := old.ExpiresAt
			if now := s.now(); from.Before(now) {
				from = now
			}
			exp, err := addDays(from, *in.ExtendDays)
			if err != nil {
				return err
			}
			u.SetExpiresAt(exp)
		}
		up, err = u.Save(ctx)
		return err
	})
	return unwrap(up, err)
}

// DeleteUserPackage deletes an assignment.
func (s *Service) DeleteUserPackage(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		return notFound(tx.UserPackage.DeleteOneID(id).Exec(ctx), "user package", "id")
	})
	return id, err
}
