package graph

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"gatehouse/internal/apperr"
	"gatehouse/internal/persisted"
	"gatehouse/internal/service"
)

// Codes is every extensions.code the API answers with, over HTTP or in a
// GraphQL error (the README lists when each is sent).
var Codes = []string{
	string(apperr.Unauthenticated),
	string(apperr.Forbidden),
	string(apperr.NotFound),
	string(apperr.BadUserInput),
	string(apperr.Conflict),
	string(apperr.RateLimited),
	string(apperr.Internal),
	CodeBadRequest,
	errcode.ParseFailed,
	errcode.ValidationFailed,
	CodeComplexityLimit,
	CodeDepthLimit,
	CodePersistedQueryNotFound,
	persisted.CodeRequired,
}

// Codes of Gatehouse's own that are not apperr codes.
const (
	// CodeBadRequest: the HTTP request is not a GraphQL request over POST
	// with a JSON object body.
	CodeBadRequest = "BAD_REQUEST"
	// CodeComplexityLimit: the operation costs more than the limits allow
	// (gqlgen's code for its complexity limit).
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	// CodeDepthLimit: the operation nests deeper than graphql.max_depth.
	CodeDepthLimit = "DEPTH_LIMIT_EXCEEDED"
	// CodePersistedQueryNotFound: a persisted query's hash the server does
	// not know; send the query with its hash (Apollo's APQ protocol,
	// gqlgen's code).
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
)

// errorPresenter gives every error an extensions.code and keeps database,
// driver and internal text away from clients: unknown errors are logged
// (with the request id) and answered generically.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if isVariableValueError(gqlErr) {
			// A variable that is not of its type (an unknown enum value,
			// a string for an Int) is bad input, not a bad query.
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
			if name, ok := gqlErr.Path[len(gqlErr.Path)-1].(ast.PathName); ok {
				gqlErr.Extensions["field"] = string(name)
			}
			return gqlErr
		}
		if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
			// Parse and validation failures keep gqlgen's codes.
			return gqlErr
		}
		cause := err
		var wrapped *gqlerror.Error
		if errors.As(err, &wrapped) && wrapped.Err != nil {
			cause = wrapped.Err
		}
		var numErr *strconv.NumError
		if errors.As(cause, &numErr) {
			return withCode(gqlErr, &apperr.Error{Code: apperr.BadUserInput, Message: "malformed id"})
		}
		if e := service.Classify(ctx, cause); e != nil {
			return withCode(gqlErr, e)
		}
		if gqlErr.Err == nil && wrapped != nil && wrapped.Err == nil {
			// An error gqlgen made itself (e.g. a bad argument value):
			// its message is about the request, not the server.
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
			return gqlErr
		}
		log.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "err", cause)
		return withCode(gqlErr, apperr.New(apperr.Internal, "internal server error"))
	}
}

// isVariableValueError reports a validation error about a variable's value
// (its path starts with "variable").
func isVariableValueError(e *gqlerror.Error) bool {
	if len(e.Path) < 2 || e.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		return false
	}
	first, ok := e.Path[0].(ast.PathName)
	return ok && first == "variable"
}

func withCode(g *gqlerror.Error, e *apperr.Error) *gqlerror.Error {
	g.Message = e.Message
	if e.Field != "" {
		g.Message = e.Field + ": " + e.Message
	}
	g.Extensions = map[string]any{"code": string(e.Code)}
	if e.Field != "" {
		g.Extensions["field"] = e.Field
	}
	return g
}

// recoverFunc turns a panic in a resolver into an internal error, logged
// with its value and the request id.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", p)
		return apperr.New(apperr.Internal, "internal server error")
	}
}
