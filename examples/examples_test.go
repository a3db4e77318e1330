// Package examples holds sample GraphQL operations; its test runs every one
// of them against a live server.
package examples

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/graph/generated"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

type example struct {
	path     string
	dir      string
	query    string
	vars     string
	captures [][2]string // name, path
	token    string
	expect   string
}

func load(t *testing.T) []example {
	t.Helper()
	files, err := filepath.Glob("*/*.graphql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	var out []example
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ex := example{path: f, dir: filepath.Dir(f), query: string(raw)}
		for _, line := range strings.Split(string(raw), "\n") {
			key, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
			if !strings.HasPrefix(line, "# ") || !ok {
				continue
			}
			switch key {
			case "variables":
				ex.vars = val
			case "capture":
				name, path, ok := strings.Cut(val, " = ")
				if !ok {
					t.Fatalf("%s: bad capture line %q", f, line)
				}
				ex.captures = append(ex.captures, [2]string{name, path})
			case "token":
				ex.token = val
			case "expect":
				ex.expect = val
			}
		}
		out = append(out, ex)
	}
	return out
}

// substitute replaces "$name" string values with captured values.
func substitute(t *testing.T, v any, captured map[string]string) any {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "$") {
			got, ok := captured[x[1:]]
			if !ok {
				t.Fatalf("variable refers to %s, which no earlier example captured", x)
			}
			return got
		}
		return x
	case []any:
		for i := range x {
			x[i] = substitute(t, x[i], captured)
		}
	case map[string]any:
		for k := range x {
			x[k] = substitute(t, x[k], captured)
		}
	}
	return v
}

// lookup follows a dotted path (numbers index lists) through decoded JSON.
func lookup(v any, path string) (string, error) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				return "", fmt.Errorf("no element %q", part)
			}
			v = x[i]
		default:
			return "", fmt.Errorf("cannot follow %q", part)
		}
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is %T, not a string", path, v)
	}
	return s, nil
}

func TestExamplesRunAgainstALiveServer(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("root", "root-password", user.RoleADMIN)
	captured := map[string]string{"adminToken": s.Login("root", "root-password")}

	for _, ex := range load(t) {
		var vars map[string]any
		if ex.vars != "" {
			if err := json.Unmarshal([]byte(ex.vars), &vars); err != nil {
				t.Fatalf("%s: variables: %v", ex.path, err)
			}
			substitute(t, vars, captured)
		}
		token := captured[ex.dir+"Token"]
		switch ex.token {
		case "none":
			token = ""
		case "":
		default:
			token = captured[ex.token]
		}
		r := s.Do(token, ex.query, vars)
		if ex.expect != "" {
			if r.Code() != ex.expect {
				t.Fatalf("%s: want error %s, got %+v (data %s)", ex.path, ex.expect, r.Errors, r.Data)
			}
			continue
		}
		if len(r.Errors) > 0 || len(r.Data) == 0 || string(r.Data) == "null" {
			t.Fatalf("%s: %+v (data %s)", ex.path, r.Errors, r.Data)
		}
		var data any
		r.Decode(t, &data)
		for _, c := range ex.captures {
			v, err := lookup(data, c[1])
			if err != nil {
				t.Fatalf("%s: capture %s: %v in %s", ex.path, c[0], err, r.Data)
			}
			captured[c[0]] = v
		}
	}
}

var word = regexp.MustCompile(`\w+`)

// TestExamplesCoverEveryOperation fails when a query or mutation of the
// schema has no example.
func TestExamplesCoverEveryOperation(t *testing.T) {
	used := map[string]bool{}
	for _, ex := range load(t) {
		for _, line := range strings.Split(ex.query, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, w := range word.FindAllString(line, -1) {
				used[w] = true
			}
		}
	}
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for _, typ := range []string{"Query", "Mutation"} {
		for _, f := range schema.Types[typ].Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if !used[f.Name] {
				t.Errorf("%s.%s has no example in examples/", typ, f.Name)
			}
		}
	}
}
