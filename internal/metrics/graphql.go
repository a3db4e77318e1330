package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// MaxOperationNames bounds the operation label: the first
// MaxOperationNames distinct operation names this process executes keep
// their own label value; any name after that is "other". A name that is
// not a plain GraphQL name of at most 64 characters is "other" too, and
// an operation without a name is "unnamed". So however many names
// clients invent, the operation label has at most MaxOperationNames+2
// values.
const MaxOperationNames = 200

// Label values of operations whose name is not counted on its own.
const (
	OperationUnnamed = "unnamed"
	OperationOther   = "other"
)

// maxNameLen bounds a name that keeps its label value.
const maxNameLen = 64

// nameSet admits the first max names.
type nameSet struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newNameSet(max int) *nameSet { return &nameSet{max: max, seen: map[string]struct{}{}} }

// label is the operation label for name.
func (s *nameSet) label(name string) string {
	if name == "" {
		return OperationUnnamed
	}
	if !plainName(name) {
		return OperationOther
	}
	s.mu.RLock()
	_, ok := s.seen[name]
	s.mu.RUnlock()
	if ok {
		return name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[name]; ok {
		return name
	}
	if len(s.seen) >= s.max {
		return OperationOther
	}
	s.seen[name] = struct{}{}
	return name
}

// plainName reports whether name matches [A-Za-z_][A-Za-z0-9_]{0,63}.
func plainName(name string) bool {
	if len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// codeLabel bounds the code label: codes are short upper-case words
// (Gatehouse's and gqlgen's); anything else is "other", none is "NONE".
func codeLabel(v any) string {
	code, _ := v.(string)
	if code == "" {
		return "NONE"
	}
	if len(code) > 40 {
		return OperationOther
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; !(c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
			return OperationOther
		}
	}
	return code
}

// GraphQL returns the gqlgen handler extension that counts operations by
// name and type, times queries and mutations, and counts errors by
// extensions.code (parse and validation failures included). It is an
// operation and response interceptor only: it adds no field middleware,
// so gqlgen's plain-field fast path stays on.
func (m *Metrics) GraphQL() graphql.HandlerExtension { return gqlExtension{m} }

type gqlExtension struct{ m *Metrics }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = gqlExtension{}

func (gqlExtension) ExtensionName() string                   { return "Metrics" }
func (gqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

// inOperation marks the context of an operation that InterceptOperation
// counts, so that InterceptResponse leaves its responses alone.
type inOperation struct{}

func (e gqlExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	start := time.Now()
	oc := graphql.GetOperationContext(ctx)
	name, typ := oc.OperationName, "unknown"
	if oc.Operation != nil {
		if name == "" {
			name = oc.Operation.Name
		}
		typ = string(oc.Operation.Operation)
	}
	ops := e.m.opSeries(opKey{e.m.names.label(name), typ})
	ops.count.Inc()
	rh := next(context.WithValue(ctx, inOperation{}, true))
	timed := typ != string(ast.Subscription)
	return func(ctx context.Context) *graphql.Response {
		resp := rh(ctx)
		if timed {
			timed = false
			ops.dur.Observe(time.Since(start).Seconds())
		}
		if resp != nil {
			e.countErrors(resp)
		}
		return resp
	}
}

// InterceptResponse counts the errors of requests that never became an
// operation (unparsable, invalid).
func (e gqlExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && ctx.Value(inOperation{}) == nil {
		e.countErrors(resp)
	}
	return resp
}

func (e gqlExtension) countErrors(resp *graphql.Response) {
	for _, err := range resp.Errors {
		var code any
		if err != nil && err.Extensions != nil {
			code = err.Extensions["code"]
		}
		e.m.gqlErrors.WithLabelValues(codeLabel(code)).Inc()
	}
}

type opKey struct{ name, typ string }

type opSeries struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// opSeries finds k's series without building label slices per operation.
func (m *Metrics) opSeries(k opKey) opSeries {
	m.opMu.RLock()
	s, ok := m.opCache[k]
	m.opMu.RUnlock()
	if ok {
		return s
	}
	s = opSeries{count: m.gqlOps.WithLabelValues(k.name, k.typ), dur: m.gqlDuration.WithLabelValues(k.name, k.typ)}
	m.opMu.Lock()
	m.opCache[k] = s
	m.opMu.Unlock()
	return s
}
