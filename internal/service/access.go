package service

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// AccessCheck answers whether a user may use a feature now.
type AccessCheck struct {
	// Feature is the key asked about.
	Feature string
	access.Check
}

// CheckAccess tells whether the viewer may use the feature with this key
// now. A key no feature has is UNKNOWN_FEATURE, whatever the viewer holds.
func (s *Service) CheckAccess(ctx context.Context, key string) (*AccessCheck, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	key = strings.TrimSpace(key)
	var (
		known bool
		ups   []*ent.UserPackage
	)
	// The contents of this feature in the user's packages: their limits.
	limits := map[int]*int{}
	// One statement reads whether the key exists (for any signed-in user:
	// the catalogue's keys are what clients ask about), the viewer's
	// assignments and the feature's contents in their packages. It keeps
	// to the viewer's rows itself (privacy rules are not applied to it).
	err := s.client.ReadRows(ctx, checkAccessSQL(s.client.Dialect()), []any{v.UserID, key}, func(rows *sql.Rows) error {
		for rows.Next() {
			var (
				upID, pkgID, contentID, limit sql.NullInt64
				starts, expires, grace, susp  sql.NullTime
			)
			if err := rows.Scan(&upID, &pkgID, &starts, &expires, &grace, &susp, &contentID, &limit); err != nil {
				return err
			}
			known = true
			if !upID.Valid {
				continue
			}
			up := &ent.UserPackage{ID: int(upID.Int64), PackageID: int(pkgID.Int64), StartsAt: starts.Time, ExpiresAt: expires.Time, GraceEndsAt: grace.Time}
			if susp.Valid {
				t := susp.Time
				up.SuspendedAt = &t
			}
			ups = append(ups, up)
			if contentID.Valid {
				var l *int
				if limit.Valid {
					n := int(limit.Int64)
					l = &n
				}
				limits[up.PackageID] = l
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !known {
		return &AccessCheck{Feature: key, Check: access.Check{Code: access.CodeUnknownFeature}}, nil
	}
	return decideAccess(ups, key, limits, s.now()), nil
}

var checkAccessStatements sync.Map // dialect → statement

// checkAccessSQL is CheckAccess's statement: a row per assignment of the
// user (one with NULLs when there is none), with the content of the
// feature in its package when there is one; no row when no feature has
// the key.
func checkAccessSQL(dialect string) string {
	if q, ok := checkAccessStatements.Load(dialect); ok {
		return q.(string)
	}
	f := sql.Table(feature.Table).As("f")
	up := sql.Table(userpackage.Table).As("up")
	pc := sql.Table(packagecontent.Table).As("pc")
	q, _ := sql.Dialect(dialect).Select(
		up.C(userpackage.FieldID), up.C(userpackage.FieldPackageID), up.C(userpackage.FieldStartsAt),
		up.C(userpackage.FieldExpiresAt), up.C(userpackage.FieldGraceEndsAt), up.C(userpackage.FieldSuspendedAt),
		pc.C(packagecontent.FieldID), pc.C(packagecontent.FieldLimit),
	).
		From(f).
		LeftJoin(up).OnP(sql.EQ(up.C(userpackage.FieldUserID), db.Param(0))).
		LeftJoin(pc).OnP(sql.And(
		sql.ColumnsEQ(pc.C(packagecontent.FieldPackageID), up.C(userpackage.FieldPackageID)),
		sql.ColumnsEQ(pc.C(packagecontent.FieldFeatureID), f.C(feature.FieldID)),
	)).
		Where(sql.EQ(f.C(feature.FieldKey), db.Param(""))).
		OrderBy(up.C(userpackage.FieldID)).
		Query()
	checkAccessStatements.Store(dialect, q)
	return q
}

// decideAccess is CheckAccess's decision over a user's assignments, given
// the limit of the feature in each of the user's packages that holds it
// (a nil limit for a SWITCH).
func decideAccess(ups []*ent.UserPackage, key string, limits map[int]*int, now time.Time) *AccessCheck {
	var with []access.Assignment
	for _, up := range ups {
		if limit, ok := limits[up.PackageID]; ok {
			a := access.FromUserPackage(up)
			a.Limit = limit
			with = append(with, a)
		}
	}
	return &AccessCheck{Feature: key, Check: access.Decide(len(ups) > 0, with, now)}
}

// ActiveFeature is one feature a user's packages grant now, merged over
// the assignments that grant it by the rules of checkAccess.
type ActiveFeature struct {
	Key  string
	Name string
	Kind feature.Kind
	// Limit is the highest limit among the granting assignments (those
	// active, or when none is, those in grace); nil for a SWITCH.
	Limit *int
	// ExpiresAt is when access ends if nothing changes: the latest expiry
	// among the active assignments, or when only in grace, the latest end
	// of grace.
	ExpiresAt time.Time
	// InGrace is true when no active assignment grants the feature, only
	// assignments in grace.
	InGrace bool
}

// ActiveFeatures lists, ordered by key, the features the user's packages
// grant now (active or in grace), each once.
func (s *Service) ActiveFeatures(ctx context.Context, userID int) ([]ActiveFeature, error) {
	now := s.now()
	ups, err := access.Granting(ctx, s.client, userID, now)
	if err != nil {
		return nil, err
	}
	return ActiveFeaturesOf(ups, now), nil
}

// ActiveFeaturesOf is ActiveFeatures over assignments read with their
// packages, the packages' contents and the contents' features (those not
// read are left out). Assignments that grant nothing now may be among
// them: they change nothing.
func ActiveFeaturesOf(ups []*ent.UserPackage, now time.Time) []ActiveFeature {
	features := map[int]*ent.Feature{}
	with := map[int][]access.Assignment{}
	for _, up := range ups {
		if up.Edges.Package == nil {
			continue
		}
		for _, c := range up.Edges.Package.Edges.Contents {
			if c.Edges.Feature == nil {
				continue
			}
			features[c.FeatureID] = c.Edges.Feature
			a := access.FromUserPackage(up)
			a.Limit = c.Limit
			with[c.FeatureID] = append(with[c.FeatureID], a)
		}
	}
	out := make([]ActiveFeature, 0, len(features))
	for id, f := range features {
		check := access.Decide(true, with[id], now)
		if !check.Granted {
			continue
		}
		af := ActiveFeature{Key: f.Key, Name: f.Name, Kind: f.Kind, Limit: check.Limit, InGrace: check.Code == access.CodeInGrace}
		switch {
		case af.InGrace && check.GraceUntil != nil:
			af.ExpiresAt = *check.GraceUntil
		case check.ExpiresAt != nil:
			af.ExpiresAt = *check.ExpiresAt
		}
		out = append(out, af)
	}
	slices.SortFunc(out, func(a, b ActiveFeature) int { return strings.Compare(a.Key, b.Key) })
	return out
}
