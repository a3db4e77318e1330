package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"gatehouse/graph/generated"
	"gatehouse/internal/auth"
	"gatehouse/internal/logging"
	"gatehouse/internal/persisted"
	"gatehouse/internal/viewer"
)

// Options configure the GraphQL handler.
type Options struct {
	Introspection bool
	MaxComplexity int
	MaxDepth      int
	Logger        *slog.Logger
	// Keepalive is how often an idle subscription stream gets a
	// keep-alive message (0: never).
	Keepalive time.Duration
	// Persisted, when set, serves automatic persisted queries (Apollo's
	// APQ) from it; with PersistedOnly, only registered documents run.
	Persisted     *persisted.Cache
	PersistedOnly bool
	// Tracer, when set, records a span per operation, and per field
	// resolver that took FieldSpanFrom or longer.
	Tracer        trace.TracerProvider
	FieldSpanFrom time.Duration
	// Extensions are added after Gatehouse's own (the metrics' operation
	// interceptor). Adding a field middleware turns gqlgen's plain-field
	// fast path off for every request.
	Extensions []graphql.HandlerExtension
}

// NewHandler returns the /graphql handler: POST with a JSON body, and for
// subscriptions graphql-ws over WebSocket and SSE (livetransport.go), with
// limits on the query's text (querylimits.go), complexity and depth
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
	// Subscriptions' transports first: each takes only its own requests
	// (an Upgrade header; Accept: text/event-stream), postJSON the rest.
	srv.AddTransport(websocketTransport(r.Auth, o.Keepalive))
	srv.AddTransport(sseTransport{transport.SSE{KeepAlivePingInterval: o.Keepalive}})
	srv.AddTransport(getQuery{})
	srv.AddTransport(postJSON{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(MaxTokens)
	srv.SetValidationRulesFn(validationRules)
	// A hash's document first (Apollo's automatic persisted queries),
	// and with persisted_only nothing but registered documents.
	if o.Persisted != nil {
		srv.Use(extension.AutomaticPersistedQuery{Cache: o.Persisted})
		if o.PersistedOnly {
			srv.Use(persisted.Only{Cache: o.Persisted})
		}
	}
	// Then: bounds the work of everything after it by the query's text.
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
	if o.Tracer != nil {
		traceOperations(srv, o.Tracer, o.FieldSpanFrom)
	}
	srv.AroundRootFields(checkFilters)
	srv.Use(signedInAnswers{})
	srv.SetErrorPresenter(errorPresenter(o.Logger))
	srv.SetRecoverFunc(recoverFunc(o.Logger))
	for _, e := range o.Extensions {
		srv.Use(e)
	}
	return srv
}

// signedInAnswers resolves the fields under a login's answer (AuthPayload)
// as the user who just signed in, so that one request signs in and reads
// everything about them (their packages, contents and sessions). Only
// mutations answer with an AuthPayload, so queries run with gqlgen's
// field middleware untouched: nothing per field.
type signedInAnswers struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = signedInAnswers{}

func (signedInAnswers) ExtensionName() string                   { return "SignedInAnswers" }
func (signedInAnswers) Validate(graphql.ExecutableSchema) error { return nil }
func (signedInAnswers) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	next := oc.ResolverMiddleware
	oc.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		return next(readAnswerAsSignedIn(ctx), resolve)
	}
	return nil
}

// readAnswerAsSignedIn gives a field of an AuthPayload the viewer who
// signed in; the fields below it inherit that context from gqlgen.
func readAnswerAsSignedIn(ctx context.Context) context.Context {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Parent != nil {
		if p, ok := fc.Parent.Result.(*auth.Payload); ok && p.SignedIn != nil {
			return viewer.NewContext(ctx, p.SignedIn)
		}
	}
	return ctx
}
