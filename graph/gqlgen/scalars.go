package main

import (
	"bytes"
	"fmt"
	"regexp"
)

// Scalars.
//
// gqlgen's marshallers of booleans, ints, int IDs and times return a
// closure that formats the value into a new string when the answer is
// written (and, for a boolean, converts a string back to bytes): two or
// three allocations per value. The generated file calls instead
// marshalBoolean, marshalInt, marshalIntID and marshalTime (support.go),
// which write the same bytes, appending to the answer's buffer.

var builtinScalar = regexp.MustCompile(`\bgraphql\.(MarshalBoolean|MarshalInt|MarshalIntID|MarshalTime)\(`)

// ownScalars replaces the calls of gqlgen's scalar marshallers that
// have a counterpart in support.go.
func ownScalars(src []byte) ([]byte, error) {
	seen := map[string]bool{}
	src = builtinScalar.ReplaceAllFunc(src, func(m []byte) []byte {
		name := string(builtinScalar.FindSubmatch(m)[1])
		seen[name] = true
		return []byte("m" + name[1:] + "(")
	})
	for _, name := range []string{"MarshalBoolean", "MarshalInt", "MarshalIntID", "MarshalTime"} {
		if !seen[name] {
			return nil, fmt.Errorf("no call of graphql.%s found", name)
		}
	}
	if bytes.Contains(src, []byte("graphql.MarshalBoolean")) {
		return nil, fmt.Errorf("graphql.MarshalBoolean left")
	}
	return src, nil
}
