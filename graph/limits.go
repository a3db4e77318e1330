package graph

import (
	"context"
	"fmt"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"gatehouse/ent"
	"gatehouse/graph/generated"
	"gatehouse/graph/model"
	"gatehouse/internal/apperr"
)

// Limits on what one request may ask for.
const (
	// MaxPage is the largest first/last of a connection; a connection
	// asked for without either returns DefaultPage items.
	MaxPage     = 100
	DefaultPage = 100
	// MaxNodes is the most ids one nodes(ids:) may name.
	MaxNodes = 100
)

// pageArgs checks first/last and applies the default page size.
func pageArgs(first, last *int) (*int, *int, error) {
	for name, v := range map[string]*int{"first": first, "last": last} {
		if v != nil && (*v < 0 || *v > MaxPage) {
			return nil, nil, apperr.Invalid(name, "must be between 0 and %d", MaxPage)
		}
	}
	if first == nil && last == nil {
		n := DefaultPage
		first = &n
	}
	return first, last, nil
}

// pageCost is what a connection of first/last items costs.
func pageCost(child int, first, last *int) int {
	n := DefaultPage
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	if n < 1 {
		n = 1
	}
	return 1 + child*n
}

// listCost is what an edge list costs. Edge lists are loaded for a whole
// page at once (no query per parent) and hold a user's few records, so
// they cost what one object does; the page size above them multiplies it.
func listCost(child int) int { return 1 + child }

// complexity costs list fields by their size, for the complexity limit.
func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Users = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.UserOrder, _ *ent.UserWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.Packages = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.PackageOrder, _ *ent.PackageWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.PackageContents = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.PackageContentOrder, _ *ent.PackageContentWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.UserPackages = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.UserPackageOrder, _ *ent.UserPackageWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.UserSessions = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.UserSessionOrder, _ *ent.UserSessionWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.Events = func(child int, _ *entgql.Cursor[int], first *int, _ *entgql.Cursor[int], last *int, _ *ent.EventOrder, _ *model.EventWhereInput) int {
		return pageCost(child, first, last)
	}
	c.Query.Nodes = func(child int, ids []int) int { return 1 + child*max(len(ids), 1) }
	c.User.Packages = listCost
	c.User.Sessions = listCost
	c.Package.Contents = listCost
	c.Package.UserPackages = listCost
	return c
}

// depthLimit refuses operations nested deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := (&depthWalker{}).depth(oc.Operation.SelectionSet); depth > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation is nested %d levels deep, more than the limit of %d", depth, d.max),
			Extensions: map[string]any{"code": CodeDepthLimit},
		}
	}
	return nil
}

// depthWalker measures the deepest field nesting of a selection set;
// fragments count as their fields, and an introspection field as one. Each fragment's own depth is measured
// once (memoised), so a fragment spread many times costs nothing more.
type depthWalker struct {
	memo map[string]int
	busy map[string]bool
}

func (w *depthWalker) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if introspectionFields[s.Name] {
				// The schema's description nests by its own shape (a
				// type's ofType chain); gqlparser's introspection rule
				// and MaxFields bound it.
				d = 1
				break
			}
			d = 1 + w.depth(s.SelectionSet)
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet)
		case *ast.FragmentSpread:
			d = w.fragment(s)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// fragment is the depth of a spread fragment; one spread within itself
// (refused by validation) counts nothing more.
func (w *depthWalker) fragment(s *ast.FragmentSpread) int {
	if d, ok := w.memo[s.Name]; ok {
		return d
	}
	if s.Definition == nil || w.busy[s.Name] {
		return 0
	}
	if w.memo == nil {
		w.memo, w.busy = map[string]int{}, map[string]bool{}
	}
	w.busy[s.Name] = true
	d := w.depth(s.Definition.SelectionSet)
	delete(w.busy, s.Name)
	w.memo[s.Name] = d
	return d
}
