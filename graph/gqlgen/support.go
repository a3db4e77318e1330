package main

import (
	"bytes"
	"fmt"
)

// execSupport gives the executable schema in src what the rewrites use: a
// noFieldMiddleware flag on its execution context, set once per operation, and
// slots of collected fields for objects, the imports and the functions of
// supportCode.
func execSupport(src []byte, slots int) ([]byte, error) {
	edits := []struct{ old, new string }{
		{
			"type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n}\n",
			"type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n\n" +
				"\t// noFieldMiddleware: the operation's field middleware is gqlgen's\n" +
				"\t// default, fields may be resolved directly (graph/gqlgen).\n\tnoFieldMiddleware bool\n" +
				"\t// collected: the last fields collected for each object type\n" +
				"\t// without concurrent fields (graph/gqlgen).\n" +
				fmt.Sprintf("\tcollected [%d]atomic.Pointer[collectedFields]\n}\n", slots),
		},
		{
			"\t\t\tdeferredResults,\n\t\t),\n\t}\n}\n",
			"\t\t\tdeferredResults,\n\t\t),\n\t\tnoFieldMiddleware: NoFieldMiddleware(opCtx),\n\t}\n}\n",
		},
	}
	for _, e := range edits {
		if n := bytes.Count(src, []byte(e.old)); n != 1 {
			return nil, fmt.Errorf("found %d times, want once: has gqlgen changed its execution context?\n%s", n, e.old)
		}
		src = bytes.Replace(src, []byte(e.old), []byte(e.new), 1)
	}
	const queryAnswer = "\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\t\t\tresponse.Data = buf.Bytes()\n"
	if n := bytes.Count(src, []byte(queryAnswer)); n != 1 {
		return nil, fmt.Errorf("found %d times, want once: has gqlgen changed how it writes answers?\n%s", n, queryAnswer)
	}
	src = bytes.Replace(src, []byte(queryAnswer), []byte("\t\t\tvar buf bytes.Buffer\n"+
		"\t\t\tbuf.Grow(answerSizes.hint(opCtx.Doc)) // written by graph/gqlgen\n"+
		"\t\t\tdata.MarshalGQL(&buf)\n"+
		"\t\t\tanswerSizes.note(opCtx.Doc, buf.Len())\n"+
		"\t\t\tresponse.Data = buf.Bytes()\n"), 1)
	const imports = "import (\n"
	if !bytes.Contains(src, []byte(imports)) {
		return nil, fmt.Errorf("no import block")
	}
	for _, path := range []string{"bytes", "io", "reflect", "slices", "strconv", "sync", "sync/atomic", "time", "github.com/99designs/gqlgen/graphql/executor"} {
		if !bytes.Contains(src, []byte("\t\""+path+"\"\n")) {
			src = bytes.Replace(src, []byte(imports), []byte(imports+"\t\""+path+"\"\n"), 1)
		}
	}
	src = append(bytes.TrimRight(src, "\n"), []byte(supportCode)...)
	return src, nil
}

const supportCode = `

// NoFieldMiddleware reports whether the field middleware of the operation
// oc is gqlgen's default, which calls the field's resolver and nothing
// else: its fields are then resolved directly, and those that read a
// struct field holding a scalar or enum without a field context. Any other
// middleware (AroundFields, an extension intercepting fields, a replaced
// ResolverMiddleware) sees every field as before (written by graph/gqlgen).
func NoFieldMiddleware(oc *graphql.OperationContext) bool {
	if oc == nil || oc.ResolverMiddleware == nil {
		return false
	}
	return slices.Contains(defaultFieldMiddleware(), reflect.ValueOf(oc.ResolverMiddleware).Pointer())
}

// defaultFieldMiddleware holds the code address of gqlgen's default field
// middleware, as an executor without extensions and one with an extension
// that does not intercept fields install it.
var defaultFieldMiddleware = sync.OnceValue(func() []uintptr {
	var pcs []uintptr
	e := executor.New(NewExecutableSchema(Config{}))
	probe := func() {
		oc, _ := e.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{Query: "{__typename}"})
		if oc != nil && oc.ResolverMiddleware != nil {
			pcs = append(pcs, reflect.ValueOf(oc.ResolverMiddleware).Pointer())
		}
	}
	probe()
	e.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(ctx)
	})
	probe()
	return pcs
})

// resolveFieldDirectly is graphql.ResolveField for a field without
// directives when the operation has no field middleware: the same steps,
// with the resolver called directly instead of through the middleware, and
// the field context's Result the value the resolver returned (written by
// graph/gqlgen).
func resolveFieldDirectly[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	field graphql.CollectedField,
	initializeFieldContext func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error),
	fieldResolver func(ctx context.Context) (any, error),
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	recoverFromPanic bool,
	nonNull bool,
) (ret graphql.Marshaler) {
	fc, err := initializeFieldContext(ctx, field)
	if err != nil {
		return graphql.Null
	}
	ctx = graphql.WithFieldContext(ctx, fc)
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				ret = graphql.Null
			}
		}()
	}
	resTmp, err := fieldResolver(ctx)
	if err != nil {
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if resTmp == nil {
		if nonNull || fc.NonNull {
			graphql.AddInvalidNullError(ctx, "")
		}
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if res, ok := resTmp.(T); ok {
		fc.Result = resTmp
		return marshal(ctx, field.Selections, res)
	}
	if res, ok := resTmp.(graphql.Marshaler); ok {
		fc.Result = res
		return res
	}
	var t T
	oc.Errorf(ctx, "unexpected type %T from middleware/directive chain, should be %T", resTmp, t)
	return graphql.Null
}

// marshalSliceSerially marshals the elements of a list one after the
// other, as graphql.MarshalSliceConcurrently does on goroutines of their
// own, with the elements' field contexts allocated together (written by
// graph/gqlgen).
func marshalSliceSerially(ctx context.Context, length int, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	elems := make([]listElement, length)
	for i := range length {
		e := &elems[i]
		e.index = i
		e.fc.Index = &e.index
		childCtx := graphql.WithFieldContext(ctx, &e.fc)
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}

// listElement is the field context of an element of a list.
type listElement struct {
	fc    graphql.FieldContext
	index int
}

// collectedFields are the fields collected for an object type from the
// selection set starting at first, of n selections.
type collectedFields struct {
	first  *ast.Selection
	n      int
	fields []graphql.CollectedField
}

// collectFields is graphql.CollectFields for the object type whose slot is
// given, remembering the selection set it last collected: the objects of a
// list share theirs. With a field middleware, it is graphql.CollectFields
// (written by graph/gqlgen).
func (ec *executionContext) collectFields(slot int, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	if len(sel) == 0 || !ec.noFieldMiddleware {
		return graphql.CollectFields(ec.OperationContext, sel, satisfies)
	}
	last := &ec.collected[slot]
	if c := last.Load(); c != nil && c.first == &sel[0] && c.n == len(sel) {
		return c.fields
	}
	fields := graphql.CollectFields(ec.OperationContext, sel, satisfies)
	last.Store(&collectedFields{first: &sel[0], n: len(sel), fields: fields})
	return fields
}

// objectFields holds the values of an object's fields when none of them is
// resolved concurrently or deferred: all of graphql.FieldSet the generated
// code then uses, writing the same bytes. With a field middleware, a
// graphql.FieldSet writes them (written by graph/gqlgen).
type objectFields struct {
	fields   []graphql.CollectedField
	Values   []graphql.Marshaler
	Invalids uint32
	gqlgen   bool
	values   [4]graphql.Marshaler
}

func (ec *executionContext) newObjectFields(fields []graphql.CollectedField) *objectFields {
	o := &objectFields{fields: fields, gqlgen: !ec.noFieldMiddleware}
	if len(fields) <= len(o.values) {
		o.Values = o.values[:len(fields):len(fields)]
	} else {
		o.Values = make([]graphql.Marshaler, len(fields))
	}
	return o
}

// Dispatch does nothing: no field is left to resolve.
func (*objectFields) Dispatch(context.Context) {}

// MarshalGQL writes the object's fields in order, each alias once, as
// graphql.FieldSet does.
func (o *objectFields) MarshalGQL(w io.Writer) {
	if o.gqlgen {
		fs := graphql.NewFieldSet(o.fields)
		copy(fs.Values, o.Values)
		fs.MarshalGQL(w)
		return
	}
	io.WriteString(w, "{")
	for i := range o.fields {
		alias := o.fields[i].Alias
		if aliasBefore(o.fields[:i], alias) {
			continue
		}
		if i > 0 {
			io.WriteString(w, ",")
		}
		writeName(w, alias)
		io.WriteString(w, ":")
		o.Values[i].MarshalGQL(w)
	}
	io.WriteString(w, "}")
}

// aliasBefore reports whether one of fields has the given alias.
func aliasBefore(fields []graphql.CollectedField, alias string) bool {
	for i := range fields {
		if fields[i].Alias == alias {
			return true
		}
	}
	return false
}

// writeName writes a GraphQL name as a JSON string; a name has nothing to
// escape (anything else is written as graphql.MarshalString would).
func writeName(w io.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			graphql.MarshalString(s).MarshalGQL(w)
			return
		}
	}
	io.WriteString(w, "\"")
	io.WriteString(w, s)
	io.WriteString(w, "\"")
}

// marshalBoolean writes what graphql.MarshalBoolean writes (written by
// graph/gqlgen).
func marshalBoolean(b bool) graphql.Marshaler {
	if b {
		return graphql.True
	}
	return graphql.False
}

// intValue writes an int as graphql.MarshalInt does, intID as
// graphql.MarshalIntID does: in a JSON string (written by graph/gqlgen).
type (
	intValue int
	intID    int
)

func marshalInt(i int) graphql.Marshaler   { return intValue(i) }
func marshalIntID(i int) graphql.Marshaler { return intID(i) }

func (i intValue) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(i), 10))
		return
	}
	io.WriteString(w, strconv.FormatInt(int64(i), 10))
}

func (i intID) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		s := append(b.AvailableBuffer(), '"')
		s = strconv.AppendInt(s, int64(i), 10)
		b.Write(append(s, '"'))
		return
	}
	io.WriteString(w, strconv.Quote(strconv.Itoa(int(i))))
}

// timeValue writes a time as graphql.MarshalTime does: quoted RFC 3339
// with nanoseconds (written by graph/gqlgen).
type timeValue time.Time

// marshalTime is graphql.MarshalTime: null for the zero time.
func marshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return timeValue(t)
}

func (t timeValue) MarshalGQL(w io.Writer) {
	if b, ok := w.(*bytes.Buffer); ok {
		s := append(b.AvailableBuffer(), '"')
		s = time.Time(t).AppendFormat(s, time.RFC3339Nano)
		if plainASCII(s[1:]) { // what strconv.Quote leaves as it is
			b.Write(append(s, '"'))
			return
		}
	}
	io.WriteString(w, strconv.Quote(time.Time(t).Format(time.RFC3339Nano)))
}

// plainASCII reports whether s holds only printable ASCII other than the
// quote and the backslash.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// answerSizes remembers the size of the last answer to a query document,
// which the next answer to it reserves at once instead of growing its
// buffer by doubling (written by graph/gqlgen). Documents share 64 slots
// by the address of the parsed document, which the query cache keeps; a
// wrong guess only costs a buffer of the wrong size.
var answerSizes answerSizeHints

type answerSizeHints [64]atomic.Int64

func (h *answerSizeHints) slot(doc *ast.QueryDocument) *atomic.Int64 {
	return &h[(reflect.ValueOf(doc).Pointer()>>4)%uintptr(len(h))]
}

func (h *answerSizeHints) hint(doc *ast.QueryDocument) int {
	if doc == nil {
		return 0
	}
	return int(min(h.slot(doc).Load(), maxAnswerHint))
}

func (h *answerSizeHints) note(doc *ast.QueryDocument, n int) {
	if doc != nil {
		h.slot(doc).Store(int64(n))
	}
}

// maxAnswerHint bounds what an answer reserves before it is written: a
// page of the admin's list is well under it, and a client whose large
// answer lands in the slot of small ones makes each of them reserve no
// more than this.
const maxAnswerHint = 256 << 10
`
