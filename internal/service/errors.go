package service

import (
	"context"
	"errors"
	"strings"

	"entgo.io/ent/privacy"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

// Classify turns any error from ent or this package into an *apperr.Error
// that is safe to show, or returns nil for an internal error (which the
// caller logs and answers generically). It is the one place that reads
// database errors, for the API and the dashboard alike.
func Classify(ctx context.Context, err error) *apperr.Error {
	if err == nil {
		return nil
	}
	if e, ok := apperr.As(err); ok {
		return e
	}
	var ve *ent.ValidationError
	if errors.As(err, &ve) {
		return apperr.Invalid(schema.APIField(ve.Name), "%s", validationMessage(ve))
	}
	if ent.IsNotFound(err) {
		return apperr.NotFoundf("not found")
	}
	if e := constraint(err); e != nil {
		return e
	}
	if errors.Is(err, privacy.Deny) {
		if viewer.FromContext(ctx) == nil {
			return apperr.New(apperr.Unauthenticated, "sign in first")
		}
		return apperr.New(apperr.Forbidden, "not allowed")
	}
	return nil
}

// constraint names the field behind a unique or foreign-key violation (nil
// for any other error). The database's text is read here and never shown.
func constraint(err error) *apperr.Error {
	if u, ok := uniqueViolation(err); ok {
		if u == nil {
			return apperr.New(apperr.Conflict, "conflicts with an existing record")
		}
		return apperr.Conflicting(u.field, "%s", u.message)
	}
	if foreignKeyViolation(err) {
		return apperr.New(apperr.Conflict, "the record is still referenced by other records")
	}
	if ent.IsConstraintError(err) {
		return apperr.New(apperr.Conflict, "conflicts with an existing record")
	}
	return nil
}

func validationMessage(ve *ent.ValidationError) string {
	inner := errors.Unwrap(ve)
	if inner == nil {
		return "is invalid"
	}
	m := inner.Error()
	switch {
	case strings.Contains(m, "greater than the required length"):
		return "is too long"
	case strings.Contains(m, "missing") || strings.Contains(m, "empty"):
		return "must not be empty"
	case strings.Contains(m, "out of range"):
		return "is out of range"
	case strings.Contains(m, "invalid enum"):
		return "is not an allowed value"
	case strings.Contains(m, "does not match"):
		return "has characters that are not allowed"
	}
	return "is invalid"
}
