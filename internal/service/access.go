package service

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

// AccessCode says why access was or was not granted.
type AccessCode string

// The access codes.
const (
	AccessGranted        AccessCode = "GRANTED"
	AccessNoPackage      AccessCode = "NO_PACKAGE"
	AccessNotStarted     AccessCode = "NOT_STARTED"
	AccessExpired        AccessCode = "EXPIRED"
	AccessFeatureMissing AccessCode = "FEATURE_MISSING"
)

// MarshalGQL writes the code as a GraphQL enum value.
func (c AccessCode) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL reads a GraphQL enum value.
func (c *AccessCode) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("access code must be a string")
	}
	switch AccessCode(s) {
	case AccessGranted, AccessNoPackage, AccessNotStarted, AccessExpired, AccessFeatureMissing:
		*c = AccessCode(s)
		return nil
	}
	return fmt.Errorf("%q is not an access code", s)
}

// AccessCheck answers whether a user may use a feature now.
type AccessCheck struct {
	Feature   packagecontent.Value
	Granted   bool
	Code      AccessCode
	StartsAt  *time.Time
	ExpiresAt *time.Time
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

// decideAccess is CheckAccess's rule over a user's assignments.
func decideAccess(ups []*ent.UserPackage, feature packagecontent.Value, now time.Time) *AccessCheck {
	out := &AccessCheck{Feature: feature}
	if len(ups) == 0 {
		out.Code = AccessNoPackage
		return out
	}
	var granted, nextStart, lastEnd *time.Time
	for _, up := range ups {
		if !grants(up, feature) {
			continue
		}
		switch {
		case UserPackageActive(up, now):
			if granted == nil || up.ExpiresAt.After(*granted) {
				granted = &up.ExpiresAt
			}
		case now.Before(up.StartsAt):
			if nextStart == nil || up.StartsAt.Before(*nextStart) {
				nextStart = &up.StartsAt
			}
		default:
			if lastEnd == nil || up.ExpiresAt.After(*lastEnd) {
				lastEnd = &up.ExpiresAt
			}
		}
	}
	switch {
	case granted != nil:
		out.Granted, out.Code, out.ExpiresAt = true, AccessGranted, granted
	case nextStart != nil:
		out.Code, out.StartsAt = AccessNotStarted, nextStart
	case lastEnd != nil:
		out.Code, out.ExpiresAt = AccessExpired, lastEnd
	default:
		out.Code = AccessFeatureMissing
	}
	return out
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
// active packages grant now.
func (s *Service) ActiveFeatures(ctx context.Context, userID int) ([]packagecontent.Value, error) {
	now := s.now()
	ups, err := s.client.UserPackage.Query().
		Where(userpackage.UserID(userID), UserPackageActiveAt(now)).
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
