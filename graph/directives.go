package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"gatehouse/ent/user"
	"gatehouse/graph/generated"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

var (
	errSignIn    = apperr.New(apperr.Unauthenticated, "sign in first")
	errForbidden = apperr.New(apperr.Forbidden, "not allowed for your role")
)

// directives implements @auth and @hasRole. A viewer exists only for an
// enabled user with a working session, so both refuse disabled users too.
func directives() generated.DirectiveRoot {
	return generated.DirectiveRoot{
		Auth: func(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
			if viewer.FromContext(ctx) == nil {
				return nil, errSignIn
			}
			return next(ctx)
		},
		HasRole: func(ctx context.Context, _ any, next graphql.Resolver, role user.Role) (any, error) {
			v := viewer.FromContext(ctx)
			if v == nil {
				return nil, errSignIn
			}
			if v.Role != string(role) {
				return nil, errForbidden
			}
			return next(ctx)
		},
	}
}
