package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"gatehouse/internal/apperr"
)

// Limits on a connection's where filter. Past them a filter is not a
// question anyone asks by hand, and the database refuses it (SQLite's
// expression depth of 1000 and its variable limit, PostgreSQL's 65535
// parameters).
const (
	// MaxFilterDepth is the deepest nesting of filter objects (the filter
	// itself is level 1; each not, and/or item and has…With item one more).
	MaxFilterDepth = 10
	// MaxFilterList is the most items of one list in a filter (and, or,
	// has…With, …In, …NotIn).
	MaxFilterList = 100
	// MaxFilterConditions is the most conditions in a filter: each field
	// compared, and each value of an …In / …NotIn list.
	MaxFilterConditions = 200
)

// checkFilters measures the where argument of every root field that has
// one (every connection) before the field resolves, so an oversized filter
// is BAD_USER_INPUT and never reaches ent or the database.
func checkFilters(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rc := graphql.GetRootFieldContext(ctx)
	if rc == nil || rc.Field.Field == nil {
		return next(ctx)
	}
	arg := rc.Field.Arguments.ForName("where")
	if arg == nil {
		return next(ctx)
	}
	v, err := arg.Value.Value(graphql.GetOperationContext(ctx).Variables)
	if err != nil {
		return next(ctx) // gqlgen reports a bad value itself
	}
	if err := filterSize(v); err != nil {
		graphql.AddError(ctx, gqlerror.WrapPath(ast.Path{ast.PathName(rc.Field.Alias)}, err))
		return graphql.Null
	}
	return next(ctx)
}

// filterSize checks a filter value (as decoded from the query or its
// variables) against the limits above.
func filterSize(v any) error {
	f := filterMeasure{}
	f.walk(v, 0)
	switch {
	case f.depth > MaxFilterDepth:
		return apperr.Invalid("where", "the filter is nested more than %d levels deep, the limit", MaxFilterDepth)
	case f.longest > MaxFilterList:
		return apperr.Invalid("where", "a list in the filter holds %d items, more than the limit of %d", f.longest, MaxFilterList)
	case f.conditions > MaxFilterConditions:
		return apperr.Invalid("where", "the filter has %d conditions, more than the limit of %d", f.conditions, MaxFilterConditions)
	}
	return nil
}

type filterMeasure struct{ depth, longest, conditions int }

// walk visits v, an object at depth+1, a list or a value. It stops going
// deeper past the depth limit, so a filter nested thousands deep costs no
// more than one at the limit.
func (f *filterMeasure) walk(v any, depth int) {
	switch x := v.(type) {
	case map[string]any:
		depth++
		f.depth = max(f.depth, depth)
		if depth > MaxFilterDepth {
			return
		}
		for _, child := range x {
			f.walk(child, depth)
		}
	case []any:
		f.longest = max(f.longest, len(x))
		for _, child := range x {
			f.walk(child, depth)
		}
	case nil:
	default:
		f.conditions++
	}
}
