package graph

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"gatehouse/graph/generated"
	"gatehouse/internal/auth"
	"gatehouse/internal/logging"
	"gatehouse/internal/viewer"
)

// Options configure the GraphQL handler.
type Options struct {
	Introspection bool
	MaxComplexity int
	MaxDepth      int
	Logger        *slog.Logger
}

// NewHandler returns the /graphql handler: POST with a JSON body only,
// with limits on the query's text (querylimits.go), complexity and depth
// limits, limits on filters, introspection as configured (field
// suggestions off whenever introspection is), and Gatehouse's errors.
func NewHandler(r *Resolver, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{
		Resolvers:  r,
		Directives: directives(),
		Complexity: complexity(),
	}))
	srv.AddTransport(postJSON{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(MaxTokens)
	srv.SetValidationRulesFn(validationRules)
	// First: bounds the work of everything after it by the query's text.
	srv.Use(newQueryLimits(o.Introspection))
	if o.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
	}
	if o.MaxComplexity > 0 {
		srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	}
	if o.MaxDepth > 0 {
		srv.Use(depthLimit{max: o.MaxDepth})
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		name := oc.OperationName
		if name == "" && oc.Operation != nil {
			name = oc.Operation.Name
		}
		logging.Info(ctx).SetOperation(name)
		return next(ctx)
	})
	srv.AroundRootFields(checkFilters)
	srv.AroundFields(readAnswerAsSignedIn)
	srv.SetErrorPresenter(errorPresenter(o.Logger))
	srv.SetRecoverFunc(recoverFunc(o.Logger))
	return srv
}

// PlaygroundHandler serves the GraphQL playground pointed at endpoint.
func PlaygroundHandler(endpoint string) http.Handler {
	return playground.Handler("Gatehouse", endpoint)
}

// readAnswerAsSignedIn resolves the fields under a login's answer as the
// user who just signed in, so that one request signs in and reads
// everything about them (their packages, contents and sessions).
func readAnswerAsSignedIn(ctx context.Context, next graphql.Resolver) (any, error) {
	for fc := graphql.GetFieldContext(ctx).Parent; fc != nil; fc = fc.Parent {
		if p, ok := fc.Result.(*auth.Payload); ok && p.SignedIn != nil {
			return next(viewer.NewContext(ctx, p.SignedIn))
		}
	}
	return next(ctx)
}
