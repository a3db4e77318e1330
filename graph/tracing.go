package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"gatehouse/internal/tracing"
)

// traceOperations records a span per GraphQL operation (its type and
// name: never its document or variables) and, after the fact, a span per
// field resolver that took at least from. Installed only with tracing on:
// a field middleware takes the plain-field fast path (graph/gqlgen) away.
func traceOperations(srv *handler.Server, tp trace.TracerProvider, from time.Duration) {
	t := tp.Tracer(tracing.Name)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		kind, name := "query", oc.OperationName
		if oc.Operation != nil {
			kind = string(oc.Operation.Operation)
			if name == "" {
				name = oc.Operation.Name
			}
		}
		if kind == "subscription" {
			// A stream, not a request: its SQL spans go to the HTTP span.
			return next(ctx)
		}
		spanName := "graphql." + kind
		if name != "" {
			spanName += " " + name
		}
		ctx, span := t.Start(ctx, spanName, trace.WithAttributes(
			attribute.String("graphql.operation.type", kind),
			attribute.String("graphql.operation.name", name),
		))
		respond := next(ctx)
		var once sync.Once
		return func(ctx context.Context) *graphql.Response {
			r := respond(ctx)
			once.Do(func() {
				if r != nil && len(r.Errors) > 0 {
					span.SetStatus(codes.Error, "the answer has errors")
				}
				span.End()
			})
			return r
		}
	})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || !fc.IsResolver {
			return next(ctx)
		}
		start := time.Now()
		res, err := next(ctx)
		if took := time.Since(start); took >= from {
			_, span := t.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithTimestamp(start),
				trace.WithAttributes(attribute.String("graphql.field.path", fc.Path().String())))
			if err != nil {
				span.SetStatus(codes.Error, "the resolver failed")
			}
			span.End(trace.WithTimestamp(start.Add(took)))
		}
		return res, err
	})
}
