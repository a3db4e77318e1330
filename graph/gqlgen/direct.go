package main

import (
	"bytes"
	"fmt"
	"regexp"
)

// Direct resolvers.
//
// graphql.ResolveField calls every field's resolver through the
// operation's field middleware, which takes the resolver as a closure
// around closures: the resolver's and the marshaller's closures escape,
// and so does the context they share, for every field. When the field
// middleware is gqlgen's default, which only calls the resolver (see
// NoFieldMiddleware in support.go), and the field has no directive, the
// field's function calls resolveFieldDirectly instead: gqlgen's steps in
// the same order, with the same field context, errors and panic recovery,
// the resolver called directly.

// resolveFieldCall matches a field function's call of graphql.ResolveField
// without a middleware chain (no directive). Groups: the arguments before
// the middleware chain, the ones after.
var resolveFieldCall = regexp.MustCompile(`(?m)^\treturn graphql\.ResolveField\(
(\t\tctx,
\t\tec\.OperationContext,
\t\tfield,
\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
(?:\t\t\t.*\n)*?\t\t\},
\t\tfunc\(ctx context\.Context\) \(any, error\) \{
(?:\t\t\t.*\n|\n)*?\t\t\},
)\t\tnil,
(\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v .*\) graphql\.Marshaler \{
(?:\t\t\t.*\n)*?\t\t\},
\t\t(?:true|false),
\t\t(?:true|false),
)\t\)
`)

// streamChain matches a subscription field's call of
// graphql.ResolveFieldStream up to its middleware chain (a field with a
// directive): such chains are not ResolveField's, and stay as they are.
var streamChain = regexp.MustCompile(`(?m)^\treturn graphql\.ResolveFieldStream\(
(?:\t\t.*\n|\n)*?\t\tfunc\(ctx context\.Context, next graphql\.Resolver\) graphql\.Resolver \{
`)

// directResolvers makes every field without directives call
// resolveFieldDirectly when the operation has no field middleware.
func directResolvers(src []byte) ([]byte, error) {
	calls := bytes.Count(src, []byte("\treturn graphql.ResolveField(\n"))
	chains := bytes.Count(src, []byte("\t\tfunc(ctx context.Context, next graphql.Resolver) graphql.Resolver {\n")) -
		len(streamChain.FindAll(src, -1))
	n := 0
	src = resolveFieldCall.ReplaceAllFunc(src, func(m []byte) []byte {
		n++
		g := resolveFieldCall.FindSubmatch(m)
		var b bytes.Buffer
		fmt.Fprintf(&b, "\tif ec.noFieldMiddleware {\n\t\treturn resolveFieldDirectly(\n%s%s\t)\n\t}\n", g[1], g[2])
		b.Write(m)
		return b.Bytes()
	})
	if n == 0 || n+chains != calls {
		return nil, fmt.Errorf("%d calls of graphql.ResolveField, %d with a middleware chain, %d without recognised: has gqlgen changed how it resolves fields?", calls, chains, n)
	}
	return src, nil
}
