// Command gqlgen runs gqlgen's code generation (as `gqlgen generate`) with
// one change: below Query's fields, an answer is built on one goroutine.
//
// gqlgen starts a goroutine for every field bound to a method that takes a
// context (every ent edge, every field resolver) and for every element of
// a list of objects. On the admin list page (100 users with packages,
// contents and sessions, about 1,500 objects) that is some 1,500
// goroutines per request, each growing its stack from the minimum: a
// third of the page's CPU, to read what the page's query already loaded
// in a fixed number of statements. So:
//
//   - fields of object types other than Query are resolved on the
//     goroutine of their object (a plugin sets gqlgen's own
//     DisableConcurrency, which Mutation always has);
//   - lists of objects are marshalled element after element: the calls
//     to graphql.MarshalSliceConcurrently in the written file are replaced
//     by marshalSliceSerially, appended to it, which recovers a panic per
//     element as the original does;
//   - objects with no concurrent field skip the @defer bookkeeping that
//     only concurrent fields use (see noIdleDeferredGroups).
//
// Query's fields stay concurrent; Mutation's are serial as the GraphQL spec
// wants.
//
// It then takes gqlgen's per-field machinery off the common path, each
// rewrite checked against gqlgen's output and failing loudly when that
// changes shape: plain.go (fields reading a struct field), direct.go
// (resolvers called without the field middleware when there is none),
// objects.go (objects without concurrent fields), scalars.go (booleans,
// ints, IDs and times), support.go (what they share, written into the
// file). graph's TestPlainFieldsAnswerAsGqlgen holds the result to
// gqlgen's own answers.
//
// Run from the module root: go run ./graph/gqlgen (see generate.go).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	cfg, err := config.LoadConfig("gqlgen.yml")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(2)
	}
	p := &serialFields{}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(3)
	}
	if err := rewrite(cfg.Exec.Filename, p.plain); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(4)
	}
}

// concurrentSlice matches gqlgen's call marshalling a list of objects; the
// last argument before the callback says whether panics are left alone.
var concurrentSlice = regexp.MustCompile(`graphql\.MarshalSliceConcurrently\(ctx, len\(v\), \d+, (true|false), `)

// rewrite rewrites the executable schema in file: lists of objects are
// marshalled on the calling goroutine, idle deferred groups are left out
// and the plain fields get their short path (plain.go).
func rewrite(file string, plain []plainField) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !concurrentSlice.Match(src) {
		return fmt.Errorf("%s: no call to graphql.MarshalSliceConcurrently found: has gqlgen changed the way it marshals lists?", file)
	}
	src = concurrentSlice.ReplaceAll(src, []byte("marshalSliceSerially(ctx, len(v), $1, "))
	if src, err = noIdleDeferredGroups(src); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	slots := 0
	if src, slots, err = serialObjects(src); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if src, err = addPlainFields(src, plain); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if src, err = directResolvers(src); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if src, err = ownScalars(src); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if src, err = execSupport(src, slots); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out, err := format.Source(src)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

// newDeferredGroup is how gqlgen starts the @defer bookkeeping of every
// object it marshals.
const newDeferredGroup = "deferred := graphql.NewDeferredGroup(ctx)\n"

// idleDeferredGroup replaces newDeferredGroup in the objects that never
// defer a field.
const idleDeferredGroup = "var deferred graphql.DeferredGroup // no field resolved concurrently, none deferred (graph/gqlgen)\n"

// noIdleDeferredGroups leaves out that bookkeeping where nothing uses it.
// Only a field resolved concurrently is ever deferred (gqlgen resolves the
// others in place, @defer or not), so an object none of whose fields is
// concurrent never fills its group; yet NewDeferredGroup computes the
// object's path and allocates a field set and a map: a fifth of the
// memory allocated for the admin list page. Such objects get the zero
// group, which reads as holding no deferred fields.
func noIdleDeferredGroups(src []byte) ([]byte, error) {
	const start = "\nfunc "
	funcs := bytes.Split(src, []byte(start))
	n := 0
	for i, f := range funcs {
		if bytes.Contains(f, []byte(newDeferredGroup)) && !bytes.Contains(f, []byte("&deferred")) {
			funcs[i] = bytes.Replace(f, []byte(newDeferredGroup), []byte(idleDeferredGroup), 1)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no object without concurrent fields starts a deferred group: has gqlgen changed the way it marshals objects?")
	}
	return bytes.Join(funcs, []byte(start)), nil
}

// serialFields turns off gqlgen's per-field goroutines on every object type
// but the root ones, and notes the plain fields (plain.go). Plugins see the
// generator's data before the executable schema is written.
type serialFields struct {
	plain []plainField
}

func (*serialFields) Name() string { return "serialfields" }

func (p *serialFields) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if !o.Root {
			o.DisableConcurrency = true
		}
	}
	p.plain = plainFields(data)
	return nil
}
