package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// BenchmarkAttackQueries measures how long the server takes to refuse each
// attack query (over HTTP, anonymous), and to answer the introspection
// query a playground sends.
func BenchmarkAttackQueries(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	cases := append(attacks(), attack{name: "introspection query", query: introspectionQuery})
	for _, a := range cases {
		body, _ := json.Marshal(map[string]any{"query": a.query})
		b.Run(strings.ReplaceAll(a.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
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
