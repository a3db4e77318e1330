package main

import (
	"bytes"
	"fmt"
	"regexp"
)

// Objects without concurrent fields.
//
// For every object it marshals, gqlgen's generated code collects the
// selected fields (graphql.CollectFields, which hashes the object's type
// names into a cache key: an allocation per object) and fills a
// graphql.FieldSet, whose MarshalGQL allocates a map of the aliases written
// and an iterator per object, and a copy of every field it writes. For the
// objects none of whose fields is resolved concurrently (every object but
// Query's, see serialFields) nothing of a FieldSet but Values, Invalids and
// MarshalGQL is used: they get an objectFields instead (exec_support), which
// writes the same bytes without those allocations, and look up their
// collected fields in a slot of the execution context that remembers the
// last selection each object type was collected for (collectFields).

// serialObject matches the lines of an object's function that these
// rewrites replace. Groups: the implementors variable.
var (
	collectFieldsCall = regexp.MustCompile(`\tfields := graphql\.CollectFields\(ec\.OperationContext, sel, (\w+Implementors)\)\n`)
	outUse            = regexp.MustCompile(`\bout\.(\w+)`)
)

// serialObjects rewrites the functions of the objects left without a
// deferred group by noIdleDeferredGroups, and returns the number of slots
// their collected fields need.
func serialObjects(src []byte) ([]byte, int, error) {
	const start = "\nfunc "
	funcs := bytes.Split(src, []byte(start))
	slots := 0
	for i, f := range funcs {
		head, _, _ := bytes.Cut(f, []byte("\n"))
		if !bytes.Contains(f, []byte(idleDeferredGroup)) || !bytes.Contains(head, []byte("sel ast.SelectionSet, obj ")) {
			continue // not an object, or a root object (Query's fields are concurrent)
		}
		m := collectFieldsCall.FindSubmatch(f)
		if m == nil || !bytes.Contains(f, []byte(newFieldSet)) {
			return nil, 0, fmt.Errorf("an object's function does not collect its fields and start a field set as expected:\nfunc %s", f)
		}
		for _, u := range outUse.FindAllSubmatch(f, -1) {
			switch string(u[1]) {
			case "Values", "Invalids", "Dispatch":
			default:
				return nil, 0, fmt.Errorf("an object's function uses out.%s, which objectFields does not have:\nfunc %s", u[1], f)
			}
		}
		f = bytes.Replace(f, m[0], fmt.Appendf(nil, "\tfields := ec.collectFields(%d, sel, %s)\n", slots, m[1]), 1)
		f = bytes.Replace(f, []byte(newFieldSet), []byte("out := ec.newObjectFields(fields)\n"), 1)
		funcs[i] = f
		slots++
	}
	if slots == 0 {
		return nil, 0, fmt.Errorf("no object without concurrent fields found")
	}
	return bytes.Join(funcs, []byte(start)), slots, nil
}

const newFieldSet = "out := graphql.NewFieldSet(fields)\n"
