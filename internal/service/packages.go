package service

import (
	"context"
	"fmt"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/schema"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/events/change"
)

// PackageContentInput is one content of a package, given with the package.
type PackageContentInput struct {
	Name string
	// FeatureKey is the key of the feature the content grants.
	FeatureKey string
	// Limit is required (at least 0) for a LIMIT feature, absent for a
	// SWITCH.
	Limit *int
}

// CreatePackageInput creates a package with its contents.
type CreatePackageInput struct {
	Name   string
	Detail *string
	Days   int
	// Trial packages are given to each user once (default false).
	Trial *bool
	// GraceDays: assignments still grant the package this many days after
	// they expire (default 0, at most schema.PackageMaxGraceDays).
	GraceDays *int
	Contents  []*PackageContentInput
}

// UpdatePackageInput changes a package; nil fields stay as they are. A
// non-nil Contents (even empty) replaces all the package's contents.
type UpdatePackageInput struct {
	Name   *string
	Detail *string
	Days   *int
	Trial  *bool
	// GraceDays, when changed, moves the grace end of every assignment of
	// the package, in the same transaction.
	GraceDays *int
	Contents  []*PackageContentInput
}

// CreatePackageContentInput adds one content to a package.
type CreatePackageContentInput struct {
	PackageID  int
	Name       string
	FeatureKey string
	Limit      *int
}

// UpdatePackageContentInput changes a content; nil fields stay as they are.
// The limit is checked against the feature the content ends with: given
// for a LIMIT feature (kept when only the name changes), absent for a
// SWITCH (a SWITCH content has none).
type UpdatePackageContentInput struct {
	Name       *string
	FeatureKey *string
	Limit      *int
}

func checkDays(field string, days int) error {
	return intRange(field, days, 1, schema.PackageMaxDays)
}

func checkGraceDays(days *int) error {
	if days == nil {
		return nil
	}
	return intRange("graceDays", *days, 0, schema.PackageMaxGraceDays)
}

// checkContents validates a contents list and returns it cleaned.
func checkContents(in []*PackageContentInput) ([]PackageContentInput, error) {
	if len(in) > MaxContents {
		return nil, apperr.Invalid("contents", "at most %d contents", MaxContents)
	}
	out := make([]PackageContentInput, 0, len(in))
	seen := map[string]bool{}
	for i, c := range in {
		if c == nil {
			return nil, apperr.Invalid(fmt.Sprintf("contents.%d", i), "must not be null")
		}
		name, err := text(fmt.Sprintf("contents.%d.name", i), c.Name, true, schema.PackageContentNameMaxLen)
		if err != nil {
			return nil, err
		}
		key := strings.TrimSpace(c.FeatureKey)
		if err := checkFeatureKey(fmt.Sprintf("contents.%d.featureKey", i), key); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, apperr.Invalid(fmt.Sprintf("contents.%d.featureKey", i), "%s is listed twice", key)
		}
		seen[key] = true
		out = append(out, PackageContentInput{Name: name, FeatureKey: key, Limit: c.Limit})
	}
	return out, nil
}

// CreatePackage creates a package and its contents in one transaction.
func (s *Service) CreatePackage(ctx context.Context, in CreatePackageInput) (*ent.Pkg, error) {
	name, err := text("name", in.Name, true, schema.PackageNameMaxLen)
	if err != nil {
		return nil, err
	}
	detail := ""
	if in.Detail != nil {
		if detail, err = text("detail", *in.Detail, false, schema.PackageDetailMaxLen); err != nil {
			return nil, err
		}
	}
	if err := checkDays("days", in.Days); err != nil {
		return nil, err
	}
	if err := checkGraceDays(in.GraceDays); err != nil {
		return nil, err
	}
	contents, err := checkContents(in.Contents)
	if err != nil {
		return nil, err
	}
	var p *ent.Pkg
	err = s.tx(ctx, func(tx *ent.Tx) error {
		if p, err = tx.Pkg.Create().
			SetName(name).
			SetDetail(detail).
			SetDays(in.Days).
			SetNillableTrial(in.Trial).
			SetNillableGraceDays(in.GraceDays).
			Save(ctx); err != nil {
			return err
		}
		d := events.Created(map[string]any{"name": p.Name, "detail": p.Detail, "days": p.Days, "trial": p.Trial, "graceDays": p.GraceDays})
		if len(contents) > 0 {
			d["contents"] = change.Change{From: nil, To: contentsValue(contents)}
		}
		if err := s.record(ctx, tx, "package.created", events.SubjectPackage, p.ID, d); err != nil {
			return err
		}
		return addContents(ctx, tx, p.ID, contents)
	})
	return unwrap(p, err)
}

func addContents(ctx context.Context, tx *ent.Tx, pkgID int, contents []PackageContentInput) error {
	if len(contents) == 0 {
		return nil
	}
	bulk := make([]*ent.PackageContentCreate, len(contents))
	for i, c := range contents {
		f, err := contentFeature(ctx, tx, fmt.Sprintf("contents.%d.", i), c.FeatureKey, c.Limit)
		if err != nil {
			return err
		}
		bulk[i] = tx.PackageContent.Create().SetPackageID(pkgID).SetName(c.Name).SetFeatureID(f.ID).SetNillableLimit(c.Limit)
	}
	return tx.PackageContent.CreateBulk(bulk...).Exec(ctx)
}

// UpdatePackage changes a package; given contents replace the old ones in
// the same transaction.
func (s *Service) UpdatePackage(ctx context.Context, id int, in UpdatePackageInput) (*ent.Pkg, error) {
	var (
		name, detail string
		err          error
	)
	if in.Name != nil {
		if name, err = text("name", *in.Name, true, schema.PackageNameMaxLen); err != nil {
			return nil, err
		}
	}
	if in.Detail != nil {
		if detail, err = text("detail", *in.Detail, false, schema.PackageDetailMaxLen); err != nil {
			return nil, err
		}
	}
	if in.Days != nil {
		if err := checkDays("days", *in.Days); err != nil {
			return nil, err
		}
	}
	if err := checkGraceDays(in.GraceDays); err != nil {
		return nil, err
	}
	var contents []PackageContentInput
	if in.Contents != nil {
		if contents, err = checkContents(in.Contents); err != nil {
			return nil, err
		}
	}
	var p *ent.Pkg
	err = s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.Pkg.Get(ctx, id)
		if err != nil {
			return notFound(err, "package", "id")
		}
		up := tx.Pkg.UpdateOne(old).
			SetNillableDays(in.Days).
			SetNillableTrial(in.Trial).
			SetNillableGraceDays(in.GraceDays)
		if in.Name != nil {
			up.SetName(name)
		}
		if in.Detail != nil {
			up.SetDetail(detail)
		}
		// The package's row is written first: assignments being written
		// meanwhile wait for it (see lockPackage).
		if p, err = up.Save(ctx); err != nil {
			return err
		}
		if p.GraceDays != old.GraceDays {
			if err := rewriteGraceEnds(ctx, tx, p); err != nil {
				return err
			}
		}
		d := pkgDiff(old, p)
		if in.Contents != nil {
			was, err := tx.PackageContent.Query().Where(packagecontent.PackageID(id)).WithFeature().Order(ent.Asc(packagecontent.FieldID)).All(ctx)
			if err != nil {
				return err
			}
			before := make([]PackageContentInput, len(was))
			for i, c := range was {
				before[i] = PackageContentInput{Name: c.Name, FeatureKey: c.Edges.Feature.Key, Limit: c.Limit}
			}
			d["contents"] = change.Change{From: contentsValue(before), To: contentsValue(contents)}
		}
		if err := s.record(ctx, tx, "package.updated", events.SubjectPackage, id, d); err != nil {
			return err
		}
		if in.Contents == nil {
			return nil
		}
		if _, err := tx.PackageContent.Delete().Where(packagecontent.PackageID(id)).Exec(ctx); err != nil {
			return err
		}
		return addContents(ctx, tx, id, contents)
	})
	return unwrap(p, err)
}

// rewriteGraceEnds moves the grace end of every assignment of p to its
// expiry plus p's grace days.
func rewriteGraceEnds(ctx context.Context, tx *ent.Tx, p *ent.Pkg) error {
	ups, err := tx.UserPackage.Query().
		Where(userpackage.PackageID(p.ID)).
		Select(userpackage.FieldID, userpackage.FieldExpiresAt).
		All(ctx)
	if err != nil {
		return err
	}
	for _, up := range ups {
		u := tx.UserPackage.UpdateOneID(up.ID)
		setExpiry(u.Mutation(), up.ExpiresAt, p.GraceDays)
		if err := u.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// DeletePackage deletes a package with its contents; a package still
// assigned to anyone is refused with CONFLICT.
func (s *Service) DeletePackage(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.Pkg.Get(ctx, id)
		if err != nil {
			return notFound(err, "package", "id")
		}
		n, err := tx.UserPackage.Query().Where(userpackage.PackageID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "the package is assigned %d time(s); delete those user packages first", n)
		}
		if err := tx.Pkg.DeleteOneID(id).Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "package.deleted", events.SubjectPackage, id, events.Diff{"name": {From: old.Name, To: nil}})
	})
	return id, err
}

// FindPackage looks a package up by id or by name (exactly one given).
func (s *Service) FindPackage(ctx context.Context, id *int, name *string) (*ent.Pkg, error) {
	var (
		p   *ent.Pkg
		err error
	)
	switch {
	case (id == nil) == (name == nil):
		return nil, apperr.Invalid("id", "give exactly one of id and name")
	case id != nil:
		p, err = s.client.Pkg.Get(ctx, *id)
	default:
		p, err = s.client.Pkg.Query().Where(pkg.Name(strings.TrimSpace(*name))).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundf("package not found")
	}
	return p, err
}

// CreatePackageContent adds a content to a package.
func (s *Service) CreatePackageContent(ctx context.Context, in CreatePackageContentInput) (*ent.PackageContent, error) {
	name, err := text("name", in.Name, true, schema.PackageContentNameMaxLen)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureKey("featureKey", strings.TrimSpace(in.FeatureKey)); err != nil {
		return nil, err
	}
	var c *ent.PackageContent
	err = s.tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.Pkg.Get(ctx, in.PackageID); err != nil {
			return notFound(err, "package", "packageID")
		}
		n, err := tx.PackageContent.Query().Where(packagecontent.PackageID(in.PackageID)).Count(ctx)
		if err != nil {
			return err
		}
		if n >= MaxContents {
			return apperr.Invalid("packageID", "the package already has %d contents", MaxContents)
		}
		f, err := contentFeature(ctx, tx, "", in.FeatureKey, in.Limit)
		if err != nil {
			return err
		}
		c, err = tx.PackageContent.Create().SetPackageID(in.PackageID).SetName(name).SetFeatureID(f.ID).SetNillableLimit(in.Limit).Save(ctx)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, "package_content.created", events.SubjectPackageContent, c.ID, events.Created(map[string]any{
			"packageID": c.PackageID, "name": c.Name, "featureID": c.FeatureID, "limit": deref(c.Limit),
		}))
	})
	return unwrap(c, err)
}

// UpdatePackageContent changes a content.
func (s *Service) UpdatePackageContent(ctx context.Context, id int, in UpdatePackageContentInput) (*ent.PackageContent, error) {
	var (
		name string
		err  error
	)
	if in.Name != nil {
		if name, err = text("name", *in.Name, true, schema.PackageContentNameMaxLen); err != nil {
			return nil, err
		}
	}
	if in.FeatureKey != nil {
		if err := checkFeatureKey("featureKey", strings.TrimSpace(*in.FeatureKey)); err != nil {
			return nil, err
		}
	}
	var c *ent.PackageContent
	err = s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.PackageContent.Get(ctx, id)
		if err != nil {
			return notFound(err, "package content", "id")
		}
		f, err := old.QueryFeature().Only(ctx)
		if err != nil {
			return err
		}
		if in.FeatureKey != nil {
			if f, err = tx.Feature.Query().Where(feature.Key(strings.TrimSpace(*in.FeatureKey))).Only(ctx); err != nil {
				return notFound(err, "feature", "featureKey")
			}
		}
		limit := in.Limit
		if limit == nil && f.Kind == feature.KindLIMIT {
			limit = old.Limit
		}
		if err := checkLimit("", f, limit); err != nil {
			return err
		}
		up := tx.PackageContent.UpdateOne(old).SetFeatureID(f.ID)
		if limit != nil {
			up.SetLimit(*limit)
		} else {
			up.ClearLimit()
		}
		if in.Name != nil {
			up.SetName(name)
		}
		if c, err = up.Save(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "package_content.updated", events.SubjectPackageContent, id, contentDiff(old, c))
	})
	return unwrap(c, err)
}

// DeletePackageContent deletes a content.
func (s *Service) DeletePackageContent(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.PackageContent.Get(ctx, id)
		if err != nil {
			return notFound(err, "package content", "id")
		}
		if err := tx.PackageContent.DeleteOne(old).Exec(ctx); err != nil {
			return notFound(err, "package content", "id")
		}
		return s.record(ctx, tx, "package_content.deleted", events.SubjectPackageContent, id, events.Diff{
			"packageID": {From: old.PackageID, To: nil}, "name": {From: old.Name, To: nil},
		})
	})
	return id, err
}

// contentsValue is a package's contents as an event shows them.
func contentsValue(cs []PackageContentInput) []map[string]any {
	out := make([]map[string]any, len(cs))
	for i, c := range cs {
		out[i] = map[string]any{"name": c.Name, "featureKey": c.FeatureKey, "limit": deref(c.Limit)}
	}
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
