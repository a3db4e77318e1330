package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// introspectionQuery is the query GraphiQL and graphql-codegen send.
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

// The introspection answer, as far as the query above asks.
type (
	isSchema struct {
		QueryType        *struct{ Name string } `json:"queryType"`
		MutationType     *struct{ Name string } `json:"mutationType"`
		SubscriptionType *struct{ Name string } `json:"subscriptionType"`
		Types            []isType               `json:"types"`
		Directives       []struct {
			Name        string    `json:"name"`
			Description *string   `json:"description"`
			Locations   []string  `json:"locations"`
			Args        []isInput `json:"args"`
		} `json:"directives"`
	}
	isType struct {
		Kind        string  `json:"kind"`
		Name        string  `json:"name"`
		Description *string `json:"description"`
		Fields      []struct {
			Name              string    `json:"name"`
			Description       *string   `json:"description"`
			Args              []isInput `json:"args"`
			Type              isRef     `json:"type"`
			IsDeprecated      bool      `json:"isDeprecated"`
			DeprecationReason *string   `json:"deprecationReason"`
		} `json:"fields"`
		InputFields []isInput `json:"inputFields"`
		Interfaces  []isRef   `json:"interfaces"`
		EnumValues  []struct {
			Name              string  `json:"name"`
			Description       *string `json:"description"`
			IsDeprecated      bool    `json:"isDeprecated"`
			DeprecationReason *string `json:"deprecationReason"`
		} `json:"enumValues"`
		PossibleTypes []isRef `json:"possibleTypes"`
	}
	isInput struct {
		Name         string  `json:"name"`
		Description  *string `json:"description"`
		Type         isRef   `json:"type"`
		DefaultValue *string `json:"defaultValue"`
	}
	isRef struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		OfType *isRef `json:"ofType"`
	}
)

func (r isRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return r.Name
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// canon writes a schema as sorted lines, one per type, field, argument,
// enum value, directive: the same text from introspection and from SDL
// means the same schema.
type canon struct{ lines []string }

func (c *canon) add(format string, args ...any) {
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}
func (c *canon) text() string {
	sort.Strings(c.lines)
	return strings.Join(c.lines, "\n")
}

func canonIntrospection(s isSchema) string {
	c := &canon{}
	root := func(what string, t *struct{ Name string }) {
		if t != nil {
			c.add("schema %s: %s", what, t.Name)
		}
	}
	root("query", s.QueryType)
	root("mutation", s.MutationType)
	root("subscription", s.SubscriptionType)
	input := func(owner string, i int, a isInput) {
		c.add("%s (%d) %s: %s = %s %q", owner, i, a.Name, a.Type, str(a.DefaultValue), str(a.Description))
	}
	for _, t := range s.Types {
		c.add("type %s %s %q", t.Name, t.Kind, str(t.Description))
		for i, f := range t.Fields {
			c.add("field %s.%s (%d): %s %q deprecated=%v %q", t.Name, f.Name, i, f.Type, str(f.Description), f.IsDeprecated, str(f.DeprecationReason))
			for j, a := range f.Args {
				input("arg "+t.Name+"."+f.Name, j, a)
			}
		}
		for i, f := range t.InputFields {
			input("input "+t.Name, i, f)
		}
		for i, r := range t.Interfaces {
			c.add("implements %s (%d) %s", t.Name, i, r)
		}
		for i, v := range t.EnumValues {
			c.add("value %s.%s (%d) %q deprecated=%v %q", t.Name, v.Name, i, str(v.Description), v.IsDeprecated, str(v.DeprecationReason))
		}
		for _, r := range t.PossibleTypes {
			c.add("possible %s %s", t.Name, r)
		}
	}
	for _, d := range s.Directives {
		c.add("directive @%s %v %q", d.Name, d.Locations, str(d.Description))
		for i, a := range d.Args {
			input("arg @"+d.Name, i, a)
		}
	}
	return c.text()
}

func canonSDL(s *ast.Schema, directives []string) string {
	c := &canon{}
	for what, t := range map[string]*ast.Definition{"query": s.Query, "mutation": s.Mutation, "subscription": s.Subscription} {
		if t != nil {
			c.add("schema %s: %s", what, t.Name)
		}
	}
	deprecated := func(l ast.DirectiveList) (bool, string) {
		d := l.ForName("deprecated")
		if d == nil {
			return false, ""
		}
		if a := d.Arguments.ForName("reason"); a != nil {
			return true, a.Value.Raw
		}
		return true, "No longer supported"
	}
	input := func(owner string, i int, a *ast.ArgumentDefinition) {
		def := ""
		if a.DefaultValue != nil {
			def = a.DefaultValue.String()
		}
		c.add("%s (%d) %s: %s = %s %q", owner, i, a.Name, a.Type, def, a.Description)
	}
	for _, t := range s.Types {
		c.add("type %s %s %q", t.Name, t.Kind, t.Description)
		i := 0
		for _, f := range t.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue // introspection's own fields, not listed by it
			}
			if t.Kind == ast.InputObject {
				def := ""
				if f.DefaultValue != nil {
					def = f.DefaultValue.String()
				}
				c.add("input %s (%d) %s: %s = %s %q", t.Name, i, f.Name, f.Type, def, f.Description)
				i++
				continue
			}
			dep, why := deprecated(f.Directives)
			c.add("field %s.%s (%d): %s %q deprecated=%v %q", t.Name, f.Name, i, f.Type, f.Description, dep, why)
			i++
			for j, a := range f.Arguments {
				input("arg "+t.Name+"."+f.Name, j, a)
			}
		}
		for i, name := range t.Interfaces {
			c.add("implements %s (%d) %s", t.Name, i, name)
		}
		for i, v := range t.EnumValues {
			dep, why := deprecated(v.Directives)
			c.add("value %s.%s (%d) %q deprecated=%v %q", t.Name, v.Name, i, v.Description, dep, why)
		}
		if t.Kind == ast.Interface || t.Kind == ast.Union {
			for _, p := range s.GetPossibleTypes(t) {
				c.add("possible %s %s", t.Name, p.Name)
			}
		}
	}
	for _, name := range directives {
		d := s.Directives[name]
		locs := make([]string, len(d.Locations))
		for i, l := range d.Locations {
			locs[i] = string(l)
		}
		c.add("directive @%s %v %q", d.Name, locs, d.Description)
		for i, a := range d.Arguments {
			input("arg @"+d.Name, i, a)
		}
	}
	return c.text()
}

// TestSchemaPrintMatchesIntrospection checks that what `schema print`
// writes is the schema a running server answers introspection with:
// every type, field, argument (with its default), enum value,
// description, deprecation and directive.
func TestSchemaPrintMatchesIntrospection(t *testing.T) {
	t.Parallel()
	r := cli(t, baseEnv(nil), "", "schema", "print")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("schema print: exit %d, stderr %s", r.code, r.stderr)
	}
	printed, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: r.stdout})
	if err != nil {
		t.Fatalf("the printed schema does not load: %v", err)
	}
	for _, want := range []string{"type Query", "type Mutation", "type Subscription", "directive @hasRole", "scalar Time", "enum Role"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the printed schema lacks %q", want)
		}
	}

	s := apptest.Start(t, nil, app.Options{})
	res := s.MustDo("", introspectionQuery, nil)
	var data struct {
		Schema isSchema `json:"__schema"`
	}
	res.Decode(t, &data)
	if len(data.Schema.Types) < 20 {
		t.Fatalf("introspection answered %d types", len(data.Schema.Types))
	}
	// Introspection lists the directives the schema declares, built-in or
	// not: compare those.
	var directives []string
	for _, d := range data.Schema.Directives {
		if printed.Directives[d.Name] == nil {
			t.Errorf("introspection shows @%s, the printed schema does not declare it", d.Name)
			continue
		}
		directives = append(directives, d.Name)
	}
	got, want := canonSDL(printed, directives), canonIntrospection(data.Schema)
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		only := func(a, b []string) []string {
			in := map[string]bool{}
			for _, l := range b {
				in[l] = true
			}
			var out []string
			for _, l := range a {
				if !in[l] {
					out = append(out, l)
				}
			}
			return out
		}
		t.Fatalf("the printed schema differs from introspection\nonly printed:\n%s\nonly introspection:\n%s",
			strings.Join(only(gl, wl), "\n"), strings.Join(only(wl, gl), "\n"))
	}
}

func TestSchemaPrintOut(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "schema.graphql")
	r := cli(t, baseEnv(nil), "", "schema", "print", "--out", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("schema print --out: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != string(SchemaSDL()) {
		t.Fatalf("--out wrote %d bytes (%v), want the schema", len(b), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("--out left %d files behind", len(entries))
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schema", "--help"}, 0, "gatehouse schema print"},
		{[]string{"schema", "print", "--help"}, 0, "graphql-codegen"},
		{[]string{"schema"}, 2, "Usage"},
		{[]string{"schema", "dump"}, 2, `unknown command "dump"`},
		{[]string{"schema", "print", "extra"}, 2, "unexpected arguments: extra"},
		{[]string{"schema", "print", "--out", filepath.Join(t.TempDir(), "no", "such", "dir.graphql")}, 1, "gatehouse schema print:"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := cli(t, baseEnv(nil), "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q; want %q", r.code, tt.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}
