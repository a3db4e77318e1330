package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse/internal/metrics"
)

// BenchmarkMiddleware is what the HTTP metrics add to a request: a mux
// with and without Middleware and RecordRoute around it (no network, so
// the difference is not lost in the noise of a round trip).
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/users/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	m := metrics.New(nil)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", mux}, {"measured", m.Middleware(metrics.RecordRoute(mux))}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/admin/users/123", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
