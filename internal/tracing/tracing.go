// Package tracing sends OpenTelemetry traces of Gatehouse's work when an
// OTLP endpoint is configured: a span per HTTP request (otelhttp), per
// GraphQL operation and per field resolver that took longer than a
// threshold (graph), and per SQL statement (Driver). W3C traceparent
// headers continue a caller's trace. Spans never carry passwords, tokens,
// query variables or SQL arguments: operations are named, statements are
// their parameterised text.
//
// Off (the default), nothing of this is installed: no middleware, no
// wrapped driver, no field middleware.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"gatehouse/internal/config"
)

// Name is the instrumentation scope of Gatehouse's own spans.
const Name = "gatehouse"

// Propagator reads and writes W3C traceparent (and tracestate) headers.
var Propagator = propagation.TraceContext{}

// New makes the tracer provider [tracing] asks for: nil when tracing is
// off (no otlp_endpoint). shutdown flushes and stops it.
func New(ctx context.Context, c config.Tracing, version string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if c.OTLPEndpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	var exp sdktrace.SpanExporter
	switch c.Protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, grpcOptions(c.OTLPEndpoint)...)
	case "http", "":
		exp, err = otlptracehttp.New(ctx, httpOptions(c.OTLPEndpoint)...)
	default:
		err = fmt.Errorf("tracing.protocol %q: want http or grpc", c.Protocol)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("gatehouse"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	p := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	return p, p.Shutdown, nil
}

// httpOptions reads an OTLP/HTTP endpoint: a URL (http:// is sent
// without TLS) or host:port (TLS).
func httpOptions(endpoint string) []otlptracehttp.Option {
	if strings.Contains(endpoint, "://") {
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	}
	return []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint)}
}

// grpcOptions reads an OTLP/gRPC endpoint: a URL (http:// is sent without
// TLS) or host:port (TLS).
func grpcOptions(endpoint string) []otlptracegrpc.Option {
	if strings.Contains(endpoint, "://") {
		return []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
	}
	return []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint)}
}

// Handler wraps h in a span per request (continuing a traceparent the
// request carries), named by the method and the route that served it.
// Without a provider it returns h.
func Handler(tp trace.TracerProvider, h http.Handler) http.Handler {
	if tp == nil {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + route(r)
		}),
	)
}

// route names a request's path without ids: the first segment or two
// (/graphql, /admin/users), never the query string.
func route(r *http.Request) string {
	p := r.URL.Path
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	switch {
	case len(parts) >= 2 && parts[0] == "admin":
		return "/admin/" + parts[1]
	case parts[0] == "":
		return "/"
	default:
		return "/" + parts[0]
	}
}

// TraceID returns the id of the trace ctx's span records into, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	return sc.TraceID().String()
}
