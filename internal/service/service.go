// Package service holds the operations on Gatehouse's five entities that
// both the GraphQL API and the admin dashboard call: input validation, the
// rules that span rows (replacing contents, extending assignments, revoking
// sessions) and their transactions. Authorization is the ent privacy rules'
// job: every call runs with the caller's viewer.
package service

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
)

// Service performs the operations.
type Service struct {
	client *ent.Client
	auth   *auth.Service
	now    func() time.Time
}

// New returns a Service.
func New(client *ent.Client, a *auth.Service) *Service {
	return &Service{client: client, auth: a, now: schema.Now}
}

// SetClock replaces the clock (for tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

func (s *Service) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return auth.WithTx(ctx, s.client, fn)
}

// MaxContents limits the contents one package may have.
const MaxContents = 100

// Day is the length of the "days" of packages and assignments.
const Day = access.Day

// text trims s and checks its length in characters.
func text(field, s string, required bool, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", apperr.Invalid(field, "must not be empty")
	}
	if !utf8.ValidString(s) {
		return "", apperr.Invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxLen {
		return "", apperr.Invalid(field, "must be at most %d characters", maxLen)
	}
	return s, nil
}

func intRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return apperr.Invalid(field, "must be between %d and %d", lo, hi)
	}
	return nil
}

// notFound turns ent's not-found into NOT_FOUND naming what is missing.
func notFound(err error, what, field string) error {
	if ent.IsNotFound(err) {
		e := apperr.NotFoundf("%s not found", what)
		e.Field = field
		return e
	}
	return err
}

// unwrap detaches an entity made in a committed transaction from it, so
// that edges can still be loaded from it.
func unwrap[T interface{ Unwrap() T }](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v.Unwrap(), nil
}
