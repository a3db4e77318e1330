package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// BenchmarkAttackQueries measures how long the server takes to refuse each
// attack query (over HTTP, anonymous), and to answer the introspection
// query a playground sends. Each request's text differs (by a comment), so
// no cached verdict or parsed document helps.
func BenchmarkAttackQueries(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	cases := append(attacks(), attack{name: "introspection query", query: introspectionQuery})
	for _, a := range cases {
		b.Run(strings.ReplaceAll(a.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				body, _ := json.Marshal(map[string]any{"query": fmt.Sprintf("%s\n# %d", a.query, i)})
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
			}
		})
	}
}
