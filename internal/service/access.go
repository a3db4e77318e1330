package service

import (
	"context"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

// AccessCode says why access was or was not granted (see access.Code).
type AccessCode = access.Code

// The access codes, in the order they are decided.
const (
	AccessGranted        = access.CodeGranted
	AccessInGrace        = access.CodeInGrace
	AccessNotStarted     = access.CodeNotStarted
	AccessSuspended      = access.CodeSuspended
	AccessExpired        = access.CodeExpired
	AccessFeatureMissing = access.CodeFeatureMissing
	AccessNoPackage      = access.CodeNoPackage
)

// AccessCheck answers whether a user may use a feature now.
type AccessCheck struct {
	Feature packagecontent.Value
	access.Check
}

// CheckAccess tells whether the viewer may use feature now.
func (s *Service) CheckAccess(ctx context.Context, feature packagecontent.Value) (*AccessCheck, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if err := checkValue("feature", feature); err != nil {
		return nil, err
	}
	ups, err := s.client.UserPackage.Query().
		Where(userpackage.UserID(v.UserID)).
		WithPackage(func(q *ent.PkgQuery) { q.WithContents() }).
		All(ctx)
	if err != nil {
		return nil, err
	}
	return decideAccess(ups, feature, s.now()), nil
}

// decideAccess is CheckAccess's decision over a user's assignments.
func decideAccess(ups []*ent.UserPackage, feature packagecontent.Value, now time.Time) *AccessCheck {
	var with []access.Assignment
	for _, up := range ups {
		if grants(up, feature) {
			with = append(with, access.FromUserPackage(up))
		}
	}
	return &AccessCheck{Feature: feature, Check: access.Decide(len(ups) > 0, with, now)}
}

func grants(up *ent.UserPackage, feature packagecontent.Value) bool {
	if up.Edges.Package == nil {
		return false
	}
	for _, c := range up.Edges.Package.Edges.Contents {
		if c.Value == feature {
			return true
		}
	}
	return false
}

// ActiveFeatures lists, in the enum's order, the features the user's
// packages grant now (active or in grace).
func (s *Service) ActiveFeatures(ctx context.Context, userID int) ([]packagecontent.Value, error) {
	now := s.now()
	ups, err := s.client.UserPackage.Query().
		Where(userpackage.UserID(userID), access.GrantingAt(now)).
		WithPackage(func(q *ent.PkgQuery) { q.WithContents() }).
		All(ctx)
	if err != nil {
		return nil, err
	}
	have := map[packagecontent.Value]bool{}
	for _, up := range ups {
		if up.Edges.Package != nil {
			for _, c := range up.Edges.Package.Edges.Contents {
				have[c.Value] = true
			}
		}
	}
	out := []packagecontent.Value{}
	for _, v := range ContentValues() {
		if have[v] {
			out = append(out, v)
		}
	}
	return out, nil
}
