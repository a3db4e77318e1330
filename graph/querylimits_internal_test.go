package graph

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// BenchmarkQueryLimitsSeenQuery is what the limits add to a request whose
// query text was seen before: a hash and a cache look-up.
func BenchmarkQueryLimitsSeenQuery(b *testing.B) {
	l := newQueryLimits(true)
	p := &graphql.RawParams{Query: `{checkAccess(feature: "moe_gatherer"){granted code expiresAt}}`}
	ctx := context.Background()
	if err := l.MutateOperationParameters(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.MutateOperationParameters(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryLimitsNewQuery measures a query text not seen before
// (parsed and measured), the page of users.
func BenchmarkQueryLimitsNewQuery(b *testing.B) {
	q := `{users(first:100){totalCount edges{node{id username packages{id expiresAt active package{id name contents{id limit feature{key}}}} sessions{id active}}}}}`
	ctx := context.Background()
	l := newQueryLimits(true)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: q + "#" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQueryLimitsStopWhenTheClientHasGone: a request whose context has
// ended is not measured (or not to the end) and is not cached.
func TestQueryLimitsStopWhenTheClientHasGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := newQueryLimits(true)
	q := "{me{" + strings.Repeat("id ", 3000) + "}}"
	if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: q}); err == nil || err.Extensions["code"] != CodeBadRequest {
		t.Fatalf("cancelled request answered %v", err)
	}
	if _, cached := l.verdicts.Get(context.Background(), verdictKey(q)); cached {
		t.Fatal("a cancelled measurement was cached")
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := measure(ctx, doc); ok {
		t.Fatal("measure went on after the context ended")
	}
}
