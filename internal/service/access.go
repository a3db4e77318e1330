package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/privacy"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
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
	// Whether a key exists is part of the answer, for any signed-in user:
	// the catalogue's keys are what clients ask about.
	f, err := s.client.Feature.Query().
		Where(feature.Key(key)).
		Select(feature.FieldID).
		Only(privacy.DecisionContext(ctx, privacy.Allow))
	if ent.IsNotFound(err) {
		return &AccessCheck{Feature: key, Check: access.Check{Code: access.CodeUnknownFeature}}, nil
	}
	if err != nil {
		return nil, err
	}
	ups, err := s.client.UserPackage.Query().Where(userpackage.UserID(v.UserID)).All(ctx)
	if err != nil {
		return nil, err
	}
	// The contents of this feature in the user's packages: their limits.
	limits := map[int]*int{}
	if len(ups) > 0 {
		pkgIDs := make([]int, 0, len(ups))
		for _, up := range ups {
			pkgIDs = append(pkgIDs, up.PackageID)
		}
		contents, err := s.client.PackageContent.Query().
			Where(packagecontent.FeatureID(f.ID), packagecontent.PackageIDIn(pkgIDs...)).
			Select(packagecontent.FieldPackageID, packagecontent.FieldLimit).
			All(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range contents {
			limits[c.PackageID] = c.Limit
		}
	}
	return decideAccess(ups, key, limits, s.now()), nil
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
	ups, err := s.client.UserPackage.Query().
		Where(userpackage.UserID(userID), access.GrantingAt(now)).
		WithPackage(func(q *ent.PkgQuery) {
			q.WithContents(func(q *ent.PackageContentQuery) { q.WithFeature() })
		}).
		All(ctx)
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
