package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The answer is written byte for byte as json.Marshal writes a
// graphql.Response, for every shape gqlgen produces.
func TestEncodeResponseMatchesJSONMarshal(t *testing.T) {
	yes := true
	data := json.RawMessage(`{"me":{"username":"<b>a&b</b>","note":"line\u2028sep\u2029","n":null,"l":[1,2.5,true,"\"q\""]}}`)
	cases := map[string]*graphql.Response{
		"data only":    {Data: data},
		"no data":      {},
		"null data":    {Data: json.RawMessage(`null`)},
		"empty object": {Data: json.RawMessage(`{}`)},
		"unicode":      {Data: json.RawMessage("{\"name\":\"Zoë 日本 \U0001F600\"}")},
		"errors only":  {Errors: gqlerror.List{{Message: "no <access>", Extensions: map[string]any{"code": "FORBIDDEN"}}}},
		"errors, data": {Errors: gqlerror.List{{Message: "x", Path: ast.Path{ast.PathName("me"), ast.PathIndex(0)}, Locations: []gqlerror.Location{{Line: 1, Column: 2}}, Extensions: map[string]any{"code": "NOT_FOUND"}}}, Data: data},
		"everything":   {Errors: gqlerror.List{{Message: "e"}}, Data: data, Label: "l<", Path: ast.Path{ast.PathName("a")}, HasNext: &yes, Extensions: map[string]any{"b": 1, "a": "&"}},
		"extensions":   {Data: data, Extensions: map[string]any{"complexity": 3}},
		"empty lists":  {Errors: gqlerror.List{}, Data: data, Path: ast.Path{}, Extensions: map[string]any{}},
	}
	for name, resp := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			writeResponse(&got, resp)
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("written\n%s\njson.Marshal\n%s", got.Bytes(), want)
			}
		})
	}
}

// BenchmarkWriteResponse writes an answer the size of the admin page (100
// users with packages, contents and sessions), against json.Marshal.
func BenchmarkWriteResponse(b *testing.B) {
	var users []any
	for i := range 100 {
		var pkgs, sessions []any
		for j := range 3 {
			var contents []any
			for k := range 3 {
				contents = append(contents, map[string]any{"name": "content", "feature": map[string]any{"key": "feature_" + string(rune('a'+k))}})
			}
			pkgs = append(pkgs, map[string]any{"active": true, "expiresAt": "2026-01-02T03:04:05Z", "package": map[string]any{"name": "Package " + string(rune('A'+j)), "contents": contents}})
			sessions = append(sessions, map[string]any{"id": "VXNlclNlc3Npb246MTIz", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "lastSeenAt": "2026-01-02T03:04:05Z"})
		}
		users = append(users, map[string]any{"node": map[string]any{"id": i, "username": "user" + string(rune('a'+i%26)), "packages": pkgs, "sessions": sessions}})
	}
	data, _ := json.Marshal(map[string]any{"users": map[string]any{"totalCount": 1000, "edges": users}})
	resp := &graphql.Response{Data: data}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writeResponse", func(b *testing.B) {
		b.ReportAllocs()
		var w bytes.Buffer
		for b.Loop() {
			w.Reset()
			writeResponse(&w, resp)
		}
	})
}
