// Package apperr defines the errors Gatehouse shows its clients: a code from
// a fixed set, an optional field at fault and a message safe to show.
//
// It is a leaf package so that the ent schema, internal/ packages, the API
// and the dashboard all speak the same errors.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients (GraphQL extensions.code).
type Code string

// The codes a client may see.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	RateLimited     Code = "RATE_LIMITED"
	Internal        Code = "INTERNAL_SERVER_ERROR"
)

// Error is an error whose message may be shown to a client.
type Error struct {
	Code    Code
	Field   string // the input field at fault, in API spelling; may be empty
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// New returns an error with code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflicting reports a uniqueness or state conflict on field.
func Conflicting(field, format string, args ...any) *Error {
	return &Error{Code: Conflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing record.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code, Internal when it has none.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// Errors is several field errors found at once.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	return es[0].Error()
}
