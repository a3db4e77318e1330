package graph

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"gatehouse/internal/apperr"
)

// Limits on a query's text. They are checked before gqlgen validates the
// query, because validation and the complexity and depth checks all walk
// fragments where they are spread: a small text whose fragments each
// spread the next one twice expands exponentially.
const (
	// MaxTokens is the most lexical tokens a query may hold.
	MaxTokens = 10_000
	// MaxFields is the most selections (fields, fragment spreads and
	// inline fragments) a document may hold once every fragment spread is
	// replaced by its fragment, counted over all its operations (and any
	// fragment none of them spreads). Validation's work grows with the
	// square of this number at worst, so it bounds that work too. The
	// introspection query GraphiQL sends holds about 210.
	MaxFields = 300
	// MaxValidationErrors is the most validation errors one answer lists:
	// fields that conflict are reported per pair, so 250 aliases of one
	// name with different arguments would be 31,000 errors.
	MaxValidationErrors = 10
	// MaxFragmentSpreads is the most fragment spreads a document's text
	// may hold.
	MaxFragmentSpreads = 100
)

// passwordFields are the mutations that check a password; a request may
// hold one of them, so that aliases cannot multiply bcrypt work, sessions
// or guesses.
var passwordFields = map[string]bool{"login": true, "changePassword": true}

// introspectionFields answer the whole schema (or a large part of it); a
// request may hold one of them.
var introspectionFields = map[string]bool{"__schema": true, "__type": true}

// queryLimits refuses queries over the limits above, and operations with
// more than one password check or introspection field. Verdicts on a
// query's text are cached, so a query seen before costs one look-up.
type queryLimits struct {
	verdicts      *lru.LRU[verdict]
	introspection bool // whether introspection is switched on
}

// verdict is what the limits said about one query text ("" code: within
// them). Errors are made anew for each request: gqlgen writes into them.
type verdict struct{ code, message string }

func (v verdict) err() *gqlerror.Error {
	if v.code == "" {
		return nil
	}
	return &gqlerror.Error{Message: v.message, Extensions: map[string]any{"code": v.code}}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*queryLimits)(nil)

func newQueryLimits(introspection bool) *queryLimits {
	return &queryLimits{verdicts: lru.New[verdict](1000), introspection: introspection}
}

func (*queryLimits) ExtensionName() string                   { return "QueryLimits" }
func (*queryLimits) Validate(graphql.ExecutableSchema) error { return nil }

// errGone answers a request whose client has gone (no one reads it).
func errGone() *gqlerror.Error {
	return &gqlerror.Error{Message: "the request was cancelled", Extensions: map[string]any{"code": CodeBadRequest}}
}

// MutateOperationParameters measures the query's text before gqlgen parses
// and validates it. A text that does not parse is left to gqlgen, which
// reports where.
func (l *queryLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		return errGone()
	}
	key := verdictKey(p.Query)
	if v, ok := l.verdicts.Get(ctx, key); ok {
		return v.err()
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, MaxTokens)
	if err != nil {
		return nil
	}
	v, ok := measure(ctx, doc)
	if !ok {
		return errGone()
	}
	l.verdicts.Add(ctx, key, v)
	return v.err()
}

// verdictKey is the cache key of a query text: its hash, so that the cache
// holds no large texts.
func verdictKey(query string) string {
	sum := sha256.Sum256([]byte(query))
	return string(sum[:])
}

// measure checks doc against MaxFields and MaxFragmentSpreads. Each
// fragment is measured once (memoised), so the work is linear in the text.
// ok is false when ctx ended first.
func measure(ctx context.Context, doc *ast.QueryDocument) (v verdict, ok bool) {
	m := &sizer{ctx: ctx, frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments))}
	for _, f := range doc.Fragments {
		if _, dup := m.frags[f.Name]; !dup {
			m.frags[f.Name] = f
		}
	}
	total := 0
	for _, op := range doc.Operations {
		total = m.add(total, m.selections(op.SelectionSet))
	}
	// Fragments no operation spreads (refused by validation, after it has
	// walked them) count on their own; so does the text under a duplicate
	// fragment name.
	for _, f := range doc.Fragments {
		if m.frags[f.Name] != f {
			total = m.add(total, m.selections(f.SelectionSet))
		} else if _, reached := m.size[f.Name]; !reached {
			total = m.add(total, m.fragment(f.Name))
		}
	}
	if m.gone {
		return verdict{}, false
	}
	switch {
	case total > MaxFields:
		return verdict{CodeComplexityLimit, fmt.Sprintf(
			"the query selects more than %d fields once its fragments are expanded, the limit", MaxFields)}, true
	case m.spreads > MaxFragmentSpreads:
		return verdict{CodeComplexityLimit, fmt.Sprintf(
			"the query holds %d fragment spreads, more than the limit of %d", m.spreads, MaxFragmentSpreads)}, true
	}
	return verdict{}, true
}

// sizer counts selections with fragments expanded, memoising each
// fragment's count and saturating just past MaxFields.
type sizer struct {
	ctx     context.Context
	frags   map[string]*ast.FragmentDefinition
	size    map[string]int
	busy    map[string]bool
	spreads int
	steps   int
	gone    bool
}

func (m *sizer) add(a, b int) int { return min(a+b, MaxFields+1) }

func (m *sizer) selections(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		if m.steps++; m.steps%1024 == 0 && m.ctx.Err() != nil {
			m.gone = true
		}
		if m.gone {
			return n
		}
		switch s := sel.(type) {
		case *ast.Field:
			n = m.add(n, m.add(1, m.selections(s.SelectionSet)))
		case *ast.InlineFragment:
			n = m.add(n, m.add(1, m.selections(s.SelectionSet)))
		case *ast.FragmentSpread:
			m.spreads++
			n = m.add(n, m.add(1, m.fragment(s.Name)))
		}
	}
	return n
}

// fragment is the expanded count of the fragment named name. An unknown
// fragment, or one spread within itself, counts nothing here: validation
// refuses both.
func (m *sizer) fragment(name string) int {
	if n, ok := m.size[name]; ok {
		return n
	}
	f := m.frags[name]
	if f == nil || m.busy[name] {
		return 0
	}
	if m.size == nil {
		m.size, m.busy = map[string]int{}, map[string]bool{}
	}
	m.busy[name] = true
	n := m.selections(f.SelectionSet)
	delete(m.busy, name)
	m.size[name] = n
	return n
}

// MutateOperationContext refuses an operation (validated, about to run)
// with more than one password check or more than one introspection field,
// or with any introspection field when introspection is switched off.
// Fields are counted by response name: the same field repeated under one
// name runs once.
// validationRules are gqlparser's rules with the errors of one validation
// capped at MaxValidationErrors (a new count for each query).
func validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	n := 0
	inner := r.GetInner()
	names := make([]string, 0, len(inner))
	for name := range inner {
		names = append(names, name)
	}
	for _, name := range names {
		rule := inner[name]
		r.ReplaceRule(name, func(o *core.Events, addError core.AddErrFunc) {
			rule(o, func(opts ...core.ErrorOption) {
				if n < MaxValidationErrors {
					n++
					addError(opts...)
				}
			})
		})
	}
	return r
}

func (l *queryLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if ctx.Err() != nil {
		return errGone()
	}
	op := oc.Operation
	if op == nil {
		return nil
	}
	switch op.Operation {
	case ast.Mutation:
		if n := countRootFields(op.SelectionSet, passwordFields); n > 1 {
			return badInput(fmt.Sprintf("a request may hold at most one field that checks a password (login, changePassword); this one holds %d", n))
		}
	case ast.Query, "":
		n := countRootFields(op.SelectionSet, introspectionFields)
		if n > 0 && !l.introspection {
			return &gqlerror.Error{Message: "introspection is switched off on this server",
				Extensions: map[string]any{"code": string(apperr.Forbidden)}}
		}
		if n > 1 {
			return badInput(fmt.Sprintf("a request may ask for at most one introspection field (__schema or __type); this one asks for %d", n))
		}
	}
	return nil
}

func badInput(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(apperr.BadUserInput)}}
}

// countRootFields counts the distinct response names of the root fields
// named in names, through fragments and inline fragments.
func countRootFields(set ast.SelectionSet, names map[string]bool) int {
	var seen map[string]bool // fragments walked
	var keys map[string]bool // response names found
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if names[s.Name] {
					if keys == nil {
						keys = map[string]bool{}
					}
					keys[s.Alias] = true
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition == nil || seen[s.Name] {
					continue
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[s.Name] = true
				walk(s.Definition.SelectionSet)
			}
		}
	}
	walk(set)
	return len(keys)
}
