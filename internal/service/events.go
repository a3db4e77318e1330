package service

import (
	"context"

	"gatehouse/ent"
	"gatehouse/internal/events"
)

// record writes the event of a change made in tx (see internal/events).
func (s *Service) record(ctx context.Context, tx *ent.Tx, typ, subjectType string, id int, d events.Diff) error {
	_, err := s.auth.Events().Record(ctx, tx, events.Entry{Type: typ, SubjectType: subjectType, SubjectID: id, Changes: d.Set()})
	return err
}

// Events is the event log the service records its changes in.
func (s *Service) Events() *events.Recorder { return s.auth.Events() }

func userDiff(old, u *ent.User) events.Diff {
	d := events.Diff{}
	events.Add(d, "username", old.Username, u.Username)
	events.Add(d, "role", old.Role, u.Role)
	events.Add(d, "disabled", old.Disabled, u.Disabled)
	return d
}

func pkgDiff(old, p *ent.Pkg) events.Diff {
	d := events.Diff{}
	events.Add(d, "name", old.Name, p.Name)
	events.Add(d, "detail", old.Detail, p.Detail)
	events.Add(d, "days", old.Days, p.Days)
	events.Add(d, "trial", old.Trial, p.Trial)
	events.Add(d, "graceDays", old.GraceDays, p.GraceDays)
	return d
}

func featureDiff(old, f *ent.Feature) events.Diff {
	d := events.Diff{}
	events.Add(d, "name", old.Name, f.Name)
	events.Add(d, "description", old.Description, f.Description)
	return d
}

func contentDiff(old, c *ent.PackageContent) events.Diff {
	d := events.Diff{}
	events.Add(d, "name", old.Name, c.Name)
	events.Add(d, "featureID", old.FeatureID, c.FeatureID)
	events.AddNillable(d, "limit", old.Limit, c.Limit)
	return d
}

func userPackageDiff(old, up *ent.UserPackage) events.Diff {
	d := events.Diff{}
	events.AddTime(d, "startsAt", old.StartsAt, up.StartsAt)
	events.AddTime(d, "expiresAt", old.ExpiresAt, up.ExpiresAt)
	events.AddTime(d, "graceEndsAt", old.GraceEndsAt, up.GraceEndsAt)
	events.AddNillableTime(d, "suspendedAt", old.SuspendedAt, up.SuspendedAt)
	events.AddNillable(d, "suspendReason", old.SuspendReason, up.SuspendReason)
	return d
}
