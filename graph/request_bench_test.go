package graph_test

import (
	"encoding/json"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// queryW4 is the load run's W4 (bench/load): checkAccess with all of its
// fields, the feature's key in a variable.
const queryW4 = `query($f: String!) { checkAccess(feature: $f) { feature granted code limit expiresAt startsAt graceUntil } }`

// BenchmarkCheckAccessW4 is BenchmarkCheckAccess with the load run's W4
// request: seven fields and a variable, where BenchmarkCheckAccess asks
// for three fields of a literal key.
func BenchmarkCheckAccessW4(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	tok := seedMe(b, s, "alice", alicePW)
	body, _ := json.Marshal(map[string]any{"query": queryW4, "variables": map[string]any{"f": "moe_gatherer"}})
	post(b, s.URL, tok, body) // the session's first touch
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		post(b, s.URL, tok, body)
	}
}

// BenchmarkRequestPath is what every API request costs around its
// resolvers: `{ __typename }` over HTTP, anonymous and with a bearer token
// (the session's lookup). Compare with BenchmarkFloorNothing, the HTTP
// round trip alone.
func BenchmarkRequestPath(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	tok := seedMe(b, s, "alice", alicePW)
	body, _ := json.Marshal(map[string]any{"query": `{ __typename }`})
	for _, c := range []struct{ name, token string }{{"anonymous", ""}, {"bearer", tok}} {
		b.Run(c.name, func(b *testing.B) {
			post(b, s.URL, c.token, body)
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			for b.Loop() {
				post(b, s.URL, c.token, body)
			}
		})
	}
}
