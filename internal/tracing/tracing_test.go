package tracing_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
)

const (
	alicePW     = "alice-secret-password"
	traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + traceID + "-" + callerSpan + "-01"
)

// One `me` request with a caller's traceparent makes one trace: the HTTP
// request's span continues the caller's, the GraphQL operation's span is
// its child, the field resolvers' and SQL statements' spans are below;
// no span holds the token or the password, and the access line names
// the trace.
func TestTraceOfOneMeRequest(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := apptest.Start(t, func(c *config.Config) { c.Tracing.FieldThreshold = config.Duration{} }, app.Options{TracerProvider: tp})
	s.CreateUser("alice", alicePW, user.RoleUSER)
	tok := s.Login("alice", alicePW)
	exp.Reset()

	body, _ := json.Marshal(map[string]any{"query": "query Me { me { username sessions { id } } }"})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("traceparent", traceparent)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), `"username":"alice"`) {
		t.Fatalf("answer %s", raw)
	}

	spans := exp.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID().String()] = sp
		if got := sp.SpanContext.TraceID().String(); got != traceID {
			t.Errorf("span %q is in trace %s, want the caller's %s", sp.Name, got, traceID)
		}
		for _, a := range sp.Attributes {
			v := a.Value.Emit()
			if strings.Contains(v, tok) || strings.Contains(v, alicePW) || strings.Contains(v, strings.TrimPrefix(tok, "gate_")) {
				t.Errorf("span %q attribute %s holds a secret", sp.Name, a.Key)
			}
		}
	}
	find := func(name string) tracetest.SpanStub {
		t.Helper()
		for _, sp := range spans {
			if sp.Name == name {
				return sp
			}
		}
		var names []string
		for _, sp := range spans {
			names = append(names, sp.Name)
		}
		t.Fatalf("no span %q among %q", name, names)
		return tracetest.SpanStub{}
	}
	// under reports whether sp has ancestor among its parents.
	under := func(sp, ancestor tracetest.SpanStub) bool {
		for p := sp.Parent.SpanID(); p.IsValid(); {
			if p == ancestor.SpanContext.SpanID() {
				return true
			}
			next, ok := byID[p.String()]
			if !ok {
				return false
			}
			p = next.Parent.SpanID()
		}
		return false
	}
	httpSpan := find("POST /graphql")
	if got := httpSpan.Parent.SpanID().String(); got != callerSpan || !httpSpan.Parent.IsRemote() {
		t.Fatalf("the HTTP span's parent is %s, want the caller's span %s", got, callerSpan)
	}
	op := find("graphql.query Me")
	if op.Parent.SpanID() != httpSpan.SpanContext.SpanID() {
		t.Fatal("the operation's span is not the HTTP span's child")
	}
	me := find("Query.me")
	if !under(me, op) {
		t.Fatal("the resolver's span is not under the operation's")
	}
	sqlUnderOp, sqlUnderHTTP := 0, 0
	for _, sp := range spans {
		var system, text string
		for _, a := range sp.Attributes {
			switch a.Key {
			case "db.system.name":
				system = a.Value.AsString()
			case "db.query.text":
				text = a.Value.AsString()
			}
		}
		if system == "" {
			continue
		}
		if text == "" || sp.Name != strings.ToUpper(strings.Fields(text)[0]) {
			t.Errorf("SQL span %q with statement %q", sp.Name, text)
		}
		switch {
		case under(sp, op):
			sqlUnderOp++
		case under(sp, httpSpan):
			sqlUnderHTTP++
		default:
			t.Errorf("SQL span %q outside the request's trace", sp.Name)
		}
	}
	if sqlUnderOp == 0 || sqlUnderHTTP == 0 {
		t.Errorf("SQL spans: %d under the operation (me), %d under the request only (the session's lookup); want both", sqlUnderOp, sqlUnderHTTP)
	}
	if !strings.Contains(s.Logs.String(), "trace_id="+traceID) {
		t.Error("the access line does not name the trace")
	}
}

// Without a traceparent and at a sample ratio of 0, nothing is recorded:
// the request's own trace is dropped at the start.
func TestSampleRatioZeroRecordsNothing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	s := apptest.Start(t, nil, app.Options{TracerProvider: tp})
	s.CreateUser("alice", alicePW, user.RoleUSER)
	s.Login("alice", alicePW)
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans recorded at a sample ratio of 0", n)
	}
	if strings.Contains(s.Logs.String(), "trace_id=") {
		t.Error("an access line names a trace that was not recorded")
	}
}
