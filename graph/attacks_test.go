package graph_test

import (
	"fmt"
	"strings"
)

// repeat joins n results of f.
func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(f(i))
	}
	return b.String()
}

// fanOut is a query whose fragments each spread the next one twice: n
// fragments expand to 2^n selections.
func fanOut(n int) string {
	return "{me{...F0}}" + repeat(n-1, func(i int) string {
		return fmt.Sprintf(" fragment F%d on User{id ...F%d ...F%d}", i, i+1, i+1)
	}) + fmt.Sprintf(" fragment F%d on User{id}", n-1)
}

// attack is a query built to cost the server far more than its size.
type attack struct {
	name, query   string
	code, message string // the refusal: code and part of its message
}

// How the limits refuse a query.
const (
	tooMany          = "COMPLEXITY_LIMIT_EXCEEDED"
	fieldsMsg        = "fields once its fragments are expanded"
	spreadsMsg       = "fragment spreads"
	introspectionMsg = "at most one introspection field"
)

// attacks are the queries the limits exist for; every one must be refused.
func attacks() []attack {
	return []attack{
		{"fan-out of 16 fragments", fanOut(16), tooMany, fieldsMsg},
		{"fan-out of 26 fragments", fanOut(26), tooMany, fieldsMsg},
		{"fan-out of 60 fragments", fanOut(60), tooMany, fieldsMsg},
		{"fan-out through nested fields", "{me{...F0}}" + repeat(30, func(i int) string {
			return fmt.Sprintf(" fragment F%d on User{sessions{user{...F%d}} packages{user{...F%d}}}", i, i+1, i+1)
		}) + " fragment F30 on User{id}", tooMany, fieldsMsg},
		{"fan-out ten wide", "{me{...F0}}" + repeat(9, func(i int) string {
			return fmt.Sprintf(" fragment F%d on User{%s}", i, repeat(10, func(int) string { return fmt.Sprintf("...F%d ", i+1) }))
		}) + " fragment F9 on User{id}", tooMany, fieldsMsg},
		{"one field repeated", "{me{" + repeat(3000, func(int) string { return "id " }) + "}}", tooMany, fieldsMsg},
		{"one alias repeated", "{" + repeat(1600, func(int) string { return "a:me{id} " }) + "}", tooMany, fieldsMsg},
		{"many fragments in one set", "{me{" + repeat(120, func(i int) string { return fmt.Sprintf("...F%d ", i) }) + "}}" +
			repeat(120, func(i int) string { return fmt.Sprintf(" fragment F%d on User{a:id}", i) }), tooMany, spreadsMsg},
		{"conflicting aliases", "{" + repeat(140, func(i int) string { return fmt.Sprintf("a:user(id:%d){id} ", i) }) + "}",
			"GRAPHQL_VALIDATION_FAILED", "conflict"},
		{"conflicting fields", "{me{" + repeat(290, func(i int) string { return []string{"a:id ", "a:username "}[i%2] }) + "}}",
			"GRAPHQL_VALIDATION_FAILED", "conflict"},
		{"aliased introspection", "{" + repeat(400, func(i int) string {
			return fmt.Sprintf("s%d:__schema{types{name fields{name}}} ", i)
		}) + "}", tooMany, fieldsMsg},
		{"aliased introspection, small", "{" + repeat(90, func(i int) string {
			return fmt.Sprintf("s%d:__schema{types{name}} ", i)
		}) + "}", "BAD_USER_INPUT", introspectionMsg},
		{"aliased __type", "{" + repeat(140, func(i int) string {
			return fmt.Sprintf("t%d:__type(name:\"User\"){name} ", i)
		}) + "}", "BAD_USER_INPUT", introspectionMsg},
	}
}

// introspectionQuery is the query GraphiQL and the playground send.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}`
