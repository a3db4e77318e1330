package service

import (
	"context"
	"fmt"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/schema"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apperr"
)

// PackageContentInput is one content of a package, given with the package.
type PackageContentInput struct {
	Name  string
	Value packagecontent.Value
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
	PackageID int
	Name      string
	Value     packagecontent.Value
}

// UpdatePackageContentInput changes a content; nil fields stay as they are.
type UpdatePackageContentInput struct {
	Name  *string
	Value *packagecontent.Value
}

// ContentValues lists the allowed content values in their order.
func ContentValues() []packagecontent.Value {
	out := make([]packagecontent.Value, len(schema.ContentValues))
	for i, v := range schema.ContentValues {
		out[i] = packagecontent.Value(v)
	}
	return out
}

func checkValue(field string, v packagecontent.Value) error {
	if err := packagecontent.ValueValidator(v); err != nil {
		return apperr.Invalid(field, "must be one of %s", strings.Join(schema.ContentValues, ", "))
	}
	return nil
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
	seen := map[packagecontent.Value]bool{}
	for i, c := range in {
		if c == nil {
			return nil, apperr.Invalid(fmt.Sprintf("contents.%d", i), "must not be null")
		}
		name, err := text(fmt.Sprintf("contents.%d.name", i), c.Name, true, schema.PackageContentNameMaxLen)
		if err != nil {
			return nil, err
		}
		if err := checkValue(fmt.Sprintf("contents.%d.value", i), c.Value); err != nil {
			return nil, err
		}
		if seen[c.Value] {
			return nil, apperr.Invalid(fmt.Sprintf("contents.%d.value", i), "%s is listed twice", c.Value)
		}
		seen[c.Value] = true
		out = append(out, PackageContentInput{Name: name, Value: c.Value})
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
		bulk[i] = tx.PackageContent.Create().SetPackageID(pkgID).SetName(c.Name).SetValue(c.Value)
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
		if _, err := tx.Pkg.Get(ctx, id); err != nil {
			return notFound(err, "package", "id")
		}
		n, err := tx.UserPackage.Query().Where(userpackage.PackageID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "the package is assigned %d time(s); delete those assignments first", n)
		}
		return tx.Pkg.DeleteOneID(id).Exec(ctx)
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
	if err := checkValue("value", in.Value); err != nil {
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
		c, err = tx.PackageContent.Create().SetPackageID(in.PackageID).SetName(name).SetValue(in.Value).Save(ctx)
		return err
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
	if in.Value != nil {
		if err := checkValue("value", *in.Value); err != nil {
			return nil, err
		}
	}
	var c *ent.PackageContent
	err = s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.PackageContent.Get(ctx, id)
		if err != nil {
			return notFound(err, "package content", "id")
		}
		up := tx.PackageContent.UpdateOne(old).SetNillableValue(in.Value)
		if in.Name != nil {
			up.SetName(name)
		}
		c, err = up.Save(ctx)
		return err
	})
	return unwrap(c, err)
}

// DeletePackageContent deletes a content.
func (s *Service) DeletePackageContent(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		return notFound(tx.PackageContent.DeleteOneID(id).Exec(ctx), "package content", "id")
	})
	return id, err
}
