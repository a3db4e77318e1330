package main

import (
	"bytes"
	"fmt"
	"go/types"
	"regexp"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/codegen"
	"github.com/vektah/gqlparser/v2/ast"
)

// Plain fields.
//
// gqlgen resolves every field through graphql.ResolveField: a new
// FieldContext, a context.WithValue, closures around the resolver, the
// value boxed twice and the field middleware called: about eight
// allocations for a field such as User.username that only reads a struct
// field. On the admin list page that is two thirds of the fields.
//
// A field is plain when its value is a struct field of its object read
// directly (no method, no resolver, no arguments, no directive) and its type
// is a scalar or enum marshalled by gqlgen's own functions (or their
// equivalents in scalars.go) or by the type's MarshalGQL: reading it
// cannot fail or panic, and nothing but an error
// would ever look at its FieldContext. For such a field the generated
// file gets a function plain_<Object>_<field> that marshals the struct
// field directly, and the object's loop calls it. It falls back to the
// field's own function (gqlgen's path, unchanged) when:
//
//   - a field middleware is installed (AroundFields, or anything that sets
//     OperationContext.ResolverMiddleware, as graph's signedInAnswers does
//     for mutations): it may do anything with the field, so every field goes
//     through it as before. Whether the middleware is gqlgen's default is
//     decided once per operation (NoFieldMiddleware, in support.go);
//   - the value marshals to null in a non-null field (a nil pointer, a zero
//     time): gqlgen's path then reports the error with the field's path.
//
// The marshalling is the field's own marshal function with its error
// reporting left out (quiet_<marshal func>), which is all it does with its
// context.

// plainField is a field found plain in gqlgen's data.
type plainField struct {
	fn      string // the field's function in the generated file, e.g. _User_username
	goField string // the struct field it reads
	marshal string // its marshal function, e.g. marshalNString2string
	nonNull bool
}

// gqlgenPkg holds gqlgen's own marshal functions (graphql.MarshalString
// and the like), which only build a value to write later.
const gqlgenPkg = "github.com/99designs/gqlgen/graphql"

// plainFields lists the plain fields of data's objects.
func plainFields(data *codegen.Data) []plainField {
	if len(data.AllDirectives.LocationDirectives(string(ast.LocationField))) > 0 {
		// A directive usable in queries wraps every field's resolver.
		return nil
	}
	var out []plainField
	for _, o := range data.Objects {
		if o.Root || o.Stream || o.IsInputType() || o.Type == nil {
			continue
		}
		for _, f := range o.Fields {
			if f.IsResolver || !f.IsVariable() || f.HasHaser || f.IsBatch() || f.Stream ||
				len(f.Args) > 0 || f.HasDirectives() || !directField(o.Type, f.GoFieldName) {
				continue
			}
			ref := f.TypeReference
			if k := ref.Definition.Kind; k != ast.Scalar && k != ast.Enum {
				continue
			}
			if ref.IsSlice() || ref.IsContext || ref.IsPtrToPtr() || ref.IsPtrToSlice() || ref.IsPtrToIntf() ||
				types.IsInterface(ref.GO) {
				continue
			}
			if !ref.IsMarshaler && (ref.Marshaler == nil || ref.Marshaler.Pkg() == nil || ref.Marshaler.Pkg().Path() != gqlgenPkg) {
				continue
			}
			out = append(out, plainField{
				fn:      "_" + o.Name + "_" + f.Name,
				goField: f.GoFieldName,
				marshal: ref.MarshalFunc(),
				nonNull: ref.GQL.NonNull,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].fn < out[j].fn })
	return out
}

// directField reports whether name is a field of the struct t itself (not
// promoted from an embedded struct, which could be a nil pointer).
func directField(t types.Type, name string) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	obj, index, _ := types.LookupFieldOrMethod(t, true, nil, name)
	v, ok := obj.(*types.Var)
	return ok && v.IsField() && len(index) == 1
}

// fieldFunc matches gqlgen's function for a field read from a struct field
// without directives. Groups: function name, object type, struct field,
// value type, marshal function, non-null.
var fieldFunc = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (\S+)\(ctx context\.Context, field graphql\.CollectedField, obj (\S+)\) \(ret graphql\.Marshaler\) \{
	return graphql\.ResolveField\(
		ctx,
		ec\.OperationContext,
		field,
		func\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
			return ec\.fieldContext\S+\(ctx, field\)
		\},
		func\(ctx context\.Context\) \(any, error\) \{
			return obj\.(\w+), nil
		\},
		nil,
		func\(ctx context\.Context, selections ast\.SelectionSet, v ([^)]+)\) graphql\.Marshaler \{
			return ec\.(\S+)\(ctx, selections, v\)
		\},
		true,
		(true|false),
	\)
\}
`)

// addPlainFields writes the plain functions of fields into src and makes
// the objects' loops call them.
func addPlainFields(src []byte, fields []plainField) ([]byte, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("no plain field found: has gqlgen changed how it binds fields?")
	}
	funcs := map[string][][]byte{}
	for _, m := range fieldFunc.FindAllSubmatch(src, -1) {
		funcs[string(m[1])] = m
	}
	var plain bytes.Buffer
	quiet := map[string]bool{}
	for _, f := range fields {
		m, ok := funcs[f.fn]
		if !ok {
			return nil, fmt.Errorf("%s: gqlgen's function for this plain field does not have the expected shape", f.fn)
		}
		objType, goField, valueType, marshal, nonNull := m[2], string(m[3]), m[4], string(m[5]), string(m[6]) == "true"
		if goField != f.goField || marshal != f.marshal || nonNull != f.nonNull {
			return nil, fmt.Errorf("%s: reads obj.%s with %s (non-null %v), gqlgen's data says obj.%s with %s (non-null %v)",
				f.fn, goField, marshal, nonNull, f.goField, f.marshal, f.nonNull)
		}
		call := "ec." + f.fn + "(ctx, field, obj)"
		site := []byte("out.Values[i] = " + call + "\n")
		if n := bytes.Count(src, site); n != 1 {
			return nil, fmt.Errorf("%s: called %d times from objects, want once", f.fn, n)
		}
		src = bytes.Replace(src, site, []byte("out.Values[i] = ec.plain"+f.fn+"(ctx, field, obj)\n"), 1)
		if !quiet[marshal] {
			q, err := quietMarshal(src, marshal, string(valueType))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.fn, err)
			}
			quiet[marshal] = true
			plain.Write(q)
		}
		fmt.Fprintf(&plain, "\n// plain%s is %s without a FieldContext (graph/gqlgen).\n", f.fn, f.fn)
		fmt.Fprintf(&plain, "func (ec *executionContext) plain%s(ctx context.Context, field graphql.CollectedField, obj %s) graphql.Marshaler {\n", f.fn, objType)
		if nonNull {
			fmt.Fprintf(&plain, "if ec.noFieldMiddleware {\nif res := ec.quiet_%s(field.Selections, obj.%s); res != graphql.Null {\nreturn res\n}\n}\n", marshal, goField)
		} else {
			fmt.Fprintf(&plain, "if ec.noFieldMiddleware {\nreturn ec.quiet_%s(field.Selections, obj.%s)\n}\n", marshal, goField)
		}
		fmt.Fprintf(&plain, "return %s\n}\n", call)
	}
	return append(src, plain.Bytes()...), nil
}

// Statements of a marshal function that report a null in a non-null
// place, with the context's path.
var (
	nullFromMarshaler = regexp.MustCompile(`(?m)^\s*if res == graphql\.Null \{\n\s*graphql\.AddInvalidNullFromMarshaler\(ctx, "[^"]*"\)\n\s*\}\n`)
	invalidNull       = regexp.MustCompile(`(?m)^\s*graphql\.AddInvalidNullError\(ctx, "[^"]*"\)\n`)
	unusedCtx         = regexp.MustCompile(`(?m)^\s*_ = ctx\n`)
	ctxWord           = regexp.MustCompile(`\bctx\b`)
)

// quietMarshal returns marshal's function from src without its error
// reporting, as quiet_<marshal>, which takes no context.
func quietMarshal(src []byte, marshal, valueType string) ([]byte, error) {
	head := "func (ec *executionContext) " + marshal + "(ctx context.Context, sel ast.SelectionSet, v " + valueType + ") graphql.Marshaler {\n"
	start := bytes.Index(src, []byte(head))
	if start < 0 {
		return nil, fmt.Errorf("no function %s(ctx, sel, v %s)", marshal, valueType)
	}
	body := src[start+len(head):]
	end := bytes.Index(body, []byte("\n}\n"))
	if end < 0 {
		return nil, fmt.Errorf("%s: no end", marshal)
	}
	b := string(body[:end+1])
	b = nullFromMarshaler.ReplaceAllString(b, "")
	b = invalidNull.ReplaceAllString(b, "")
	b = unusedCtx.ReplaceAllString(b, "")
	if ctxWord.MatchString(b) || strings.Contains(b, "ec.") {
		return nil, fmt.Errorf("%s uses its context or another marshal function for more than reporting a null:\n%s", marshal, b)
	}
	return []byte(fmt.Sprintf("\n// quiet_%s is %s without reporting a null (graph/gqlgen).\nfunc (ec *executionContext) quiet_%s(sel ast.SelectionSet, v %s) graphql.Marshaler {\n%s}\n",
		marshal, marshal, marshal, valueType, b)), nil
}
