package service

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/packagetrial"
	"gatehouse/ent/pkg"
	"gatehouse/ent/schema"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/viewer"
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

// UserPackageActive reports whether an assignment grants its package at
// now: ACTIVE or IN_GRACE (the rule is access.StateOf).
func UserPackageActive(up *ent.UserPackage, now time.Time) bool {
	return UserPackageState(up, now).Grants()
}

// UserPackageState is the state of an assignment at now.
func UserPackageState(up *ent.UserPackage, now time.Time) access.State {
	return access.StateOf(access.FromUserPackage(up), now)
}

// setExpiry sets an assignment's expiry and, in step with it, the end of
// its grace period under its package's graceDays. Every write of
// expires_at, and every change of a package's grace days, goes through
// here (the schema refuses expires_at written alone).
func setExpiry(m *ent.UserPackageMutation, expires time.Time, graceDays int) {
	m.SetExpiresAt(expires)
	m.SetGraceEndsAt(access.GraceEnd(expires, graceDays))
}

// lockPackage reads what an assignment takes from package id (its days,
// grace days and whether it is a trial; no other field is read) for
// writing one of its assignments. On PostgreSQL it holds a shared lock on
// the package's row until the transaction ends, so that a change of the
// package's grace days (which updates the row first) waits for the
// assignment to be written, or the assignment waits for the new grace days.
func lockPackage(ctx context.Context, tx *ent.Tx, id int) (*ent.Pkg, error) {
	return tx.Pkg.Query().
		Where(pkg.ID(id), forShare).
		Select(pkg.FieldDays, pkg.FieldGraceDays, pkg.FieldTrial).
		Only(ctx)
}

// AssignPackage assigns a package to a user for days (default: the
// package's) from startsAt (default: now). If the user already holds the
// package and it has not expired, that assignment is extended by days
// instead. A trial package is given to a user once (see giveTrial). The
// user's row is locked meanwhile, so parallel calls for one user make one
// assignment and extend it by each call's days.
func (s *Service) AssignPackage(ctx context.Context, in AssignPackageInput) (*ent.UserPackage, error) {
	if in.Days != nil {
		if err := checkDays("days", *in.Days); err != nil {
			return nil, err
		}
	}
	var up *ent.UserPackage
	err := s.tx(ctx, func(tx *ent.Tx) error {
		// On PostgreSQL the user's row is locked first (see locks.go). On
		// SQLite the transaction holds the database's write lock already,
		// and the user is read only to know that they exist, which an
		// assignment they hold proves: so only when they hold none, or
		// when the package is missing (a missing user is told first).
		userRead := false
		readUser := func() error {
			userRead = true
			return notFound(lockUserID(ctx, tx, in.UserID), "user", "userID")
		}
		if rowLocks(tx) {
			if err := readUser(); err != nil {
				return err
			}
		}
		p, err := lockPackage(ctx, tx, in.PackageID)
		if err != nil {
			if ent.IsNotFound(err) && !userRead {
				if err := readUser(); err != nil {
					return err
				}
			}
			return notFound(err, "package", "packageID")
		}
		days := p.Days
		if in.Days != nil {
			days = *in.Days
		}
		now := s.now()
		held, err := heldAssignment(ctx, tx, in.UserID, in.PackageID, now)
		if err != nil {
			return err
		}
		if held != nil {
			exp, err := addDays(held.ExpiresAt, days)
			if err != nil {
				return err
			}
			if up, err = extend(ctx, tx, held, exp, p.GraceDays); err != nil {
				return err
			}
			return s.record(ctx, tx, "user_package.extended", events.SubjectUserPackage, up.ID, userPackageDiff(held, up))
		}
		if !userRead {
			if err := readUser(); err != nil {
				return err
			}
		}
		if p.Trial {
			if err := giveTrial(ctx, tx, in.UserID, in.PackageID); err != nil {
				return err
			}
		}
		start := now
		if in.StartsAt != nil {
			start = schema.Timestamp(*in.StartsAt)
		}
		exp, err := addDays(start, days)
		if err != nil {
			return err
		}
		c := tx.UserPackage.Create().
			SetUserID(in.UserID).
			SetPackageID(in.PackageID).
			SetStartsAt(start)
		setExpiry(c.Mutation(), exp, p.GraceDays)
		if up, err = c.Save(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "user_package.assigned", events.SubjectUserPackage, up.ID, events.Created(map[string]any{
			"userID": up.UserID, "packageID": up.PackageID, "startsAt": up.StartsAt, "expiresAt": up.ExpiresAt, "graceEndsAt": up.GraceEndsAt,
		}))
	})
	return unwrap(up, err)
}

// heldAssignment is the assignment of package pkgID to user userID that
// has not expired at now, the one that expires last if there are several;
// nil if there is none. (They are read without ORDER BY and compared here:
// sorting the few rows the index finds costs SQLite more, a temporary
// B-tree, than reading the rows.)
func heldAssignment(ctx context.Context, tx *ent.Tx, userID, pkgID int, now time.Time) (*ent.UserPackage, error) {
	ups, err := tx.UserPackage.Query().
		Where(
			userpackage.UserID(userID),
			userpackage.PackageID(pkgID),
			userpackage.ExpiresAtGT(now),
		).
		All(ctx)
	if err != nil {
		return nil, err
	}
	var held *ent.UserPackage
	for _, up := range ups {
		if held == nil || up.ExpiresAt.After(held.ExpiresAt) {
			held = up
		}
	}
	return held, nil
}

// extend moves assignment up's expiry to exp (its grace period with it)
// and returns up so changed. It updates the row by id with one UPDATE,
// where UpdateOne would read the row back after: every column it changes
// is set here. (starts_at is set to what it is because an update of rows
// by predicate must give both ends of the period: see the schema's
// checkPeriod.)
func extend(ctx context.Context, tx *ent.Tx, up *ent.UserPackage, exp time.Time, graceDays int) (*ent.UserPackage, error) {
	u := tx.UserPackage.Update().Where(userpackage.ID(up.ID)).SetStartsAt(up.StartsAt)
	m := u.Mutation()
	setExpiry(m, exp, graceDays)
	n, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		// Deleted meanwhile (PostgreSQL: deleting takes no user's lock).
		return nil, apperr.NotFoundf("user package not found")
	}
	out := *up
	out.ExpiresAt, _ = m.ExpiresAt()
	out.GraceEndsAt, _ = m.GraceEndsAt()
	out.UpdatedAt, _ = m.UpdatedAt()
	return &out, nil
}

// giveTrial records that a user is given a trial package, or refuses with
// CONFLICT if they ever held it: a record exists (it outlives deleted
// assignments), or an assignment made before the package became a trial.
// The caller holds the user's lock, so two calls cannot both give it; the
// unique index is the last word.
func giveTrial(ctx context.Context, tx *ent.Tx, userID, pkgID int) error {
	// The record is internal: no viewer reads or writes it.
	sys := viewer.System(ctx)
	had, err := tx.PackageTrial.Query().
		Where(packagetrial.UserID(userID), packagetrial.PackageID(pkgID)).
		Exist(sys)
	if err != nil {
		return err
	}
	if !had {
		if had, err = tx.UserPackage.Query().
			Where(userpackage.UserID(userID), userpackage.PackageID(pkgID)).
			Exist(ctx); err != nil {
			return err
		}
	}
	if had {
		return errTrialUsed()
	}
	err = tx.PackageTrial.Create().SetUserID(userID).SetPackageID(pkgID).Exec(sys)
	if ent.IsConstraintError(err) {
		return errTrialUsed()
	}
	return err
}

func errTrialUsed() error {
	return apperr.Conflicting("packageID", "%s", conflictMessages["package_trials.package_id"])
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
		old, err := lockUserPackage(ctx, tx, id)
		if err != nil {
			return err
		}
		p, err := lockPackage(ctx, tx, old.PackageID)
		if err != nil {
			return err
		}
		u := tx.UserPackage.UpdateOne(old)
		if in.StartsAt != nil {
			u.SetStartsAt(schema.Timestamp(*in.StartsAt))
		}
		if in.ExpiresAt != nil {
			setExpiry(u.Mutation(), schema.Timestamp(*in.ExpiresAt), p.GraceDays)
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
			setExpiry(u.Mutation(), exp, p.GraceDays)
		}
		if up, err = u.Save(ctx); err != nil {
			return err
		}
		typ := "user_package.updated"
		if in.ExtendDays != nil {
			typ = "user_package.extended"
		}
		return s.record(ctx, tx, typ, events.SubjectUserPackage, id, userPackageDiff(old, up))
	})
	return unwrap(up, err)
}

// SuspendUserPackage suspends an assignment: it grants nothing until it is
// resumed, while its dates keep running. Suspending a suspended assignment
// replaces its reason (and keeps when it was suspended). reason is at most
// SuspendReasonMaxLen characters; empty means none.
func (s *Service) SuspendUserPackage(ctx context.Context, id int, reason *string) (*ent.UserPackage, error) {
	var why *string
	if reason != nil {
		r, err := text("reason", *reason, false, schema.SuspendReasonMaxLen)
		if err != nil {
			return nil, err
		}
		if r != "" {
			why = &r
		}
	}
	return s.changeUserPackage(ctx, id, "user_package.suspended", func(old *ent.UserPackage, u *ent.UserPackageUpdateOne) {
		if old.SuspendedAt == nil {
			u.SetSuspendedAt(s.now())
		}
		if why != nil {
			u.SetSuspendReason(*why)
		} else {
			u.ClearSuspendReason()
		}
	})
}

// ResumeUserPackage ends an assignment's suspension; an assignment that
// is not suspended is left as it is.
func (s *Service) ResumeUserPackage(ctx context.Context, id int) (*ent.UserPackage, error) {
	return s.changeUserPackage(ctx, id, "user_package.resumed", func(_ *ent.UserPackage, u *ent.UserPackageUpdateOne) {
		u.ClearSuspendedAt().ClearSuspendReason()
	})
}

// changeUserPackage reads assignment id under its user's lock and saves
// the change set makes to it.
func (s *Service) changeUserPackage(ctx context.Context, id int, typ string, set func(*ent.UserPackage, *ent.UserPackageUpdateOne)) (*ent.UserPackage, error) {
	var up *ent.UserPackage
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := lockUserPackage(ctx, tx, id)
		if err != nil {
			return err
		}
		u := tx.UserPackage.UpdateOne(old)
		set(old, u)
		if up, err = u.Save(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, typ, events.SubjectUserPackage, id, userPackageDiff(old, up))
	})
	return unwrap(up, err)
}

// DeleteUserPackage deletes an assignment.
func (s *Service) DeleteUserPackage(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.UserPackage.Get(ctx, id)
		if err != nil {
			return notFound(err, "user package", "id")
		}
		if err := tx.UserPackage.DeleteOne(old).Exec(ctx); err != nil {
			return notFound(err, "user package", "id")
		}
		return s.record(ctx, tx, "user_package.deleted", events.SubjectUserPackage, id, events.Diff{
			"userID": {From: old.UserID, To: nil}, "packageID": {From: old.PackageID, To: nil}, "expiresAt": {From: old.ExpiresAt, To: nil},
		})
	})
	return id, err
}
