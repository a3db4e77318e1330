package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The route label is the pattern of the http.ServeMux route that served
// the request, without its method ("/admin/users/{id}", never the raw
// path "/admin/users/123"), so its values are bounded by the routes
// registered. A request no route matched is "unmatched".
const unmatchedRoute = "unmatched"

type routeKey struct{}

// reqState is a request's status and route, filled while it is served
// (one allocation per request): the innermost mux that matched writes the
// route first, and outer muxes leave it alone.
type reqState struct {
	statusWriter
	pattern string
}

// RecordRoute wraps a mux (an http.ServeMux or a handler ending in one)
// so that the pattern it matched becomes the request's route label. Wrap
// each mux, nested ones included: the innermost pattern wins.
func RecordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		// ServeMux sets r.Pattern on the request it was given.
		if rs, ok := r.Context().Value(routeKey{}).(*reqState); ok && rs.pattern == "" && r.Pattern != "" {
			rs.pattern = r.Pattern
		}
	})
}

// routeLabel is pattern without its method and host.
func routeLabel(pattern string) string {
	if pattern == "" {
		return unmatchedRoute
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // a host pattern
	}
	return pattern
}

// methodLabel bounds the method label to the methods of HTTP; anything
// else a client sends is "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodHead, http.MethodOptions,
		http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware counts and times every request by method, route pattern
// (recorded by RecordRoute around the muxes inside) and status.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rs := &reqState{statusWriter: statusWriter{ResponseWriter: w}}
		next.ServeHTTP(&rs.statusWriter, r.WithContext(context.WithValue(r.Context(), routeKey{}, rs)))
		status := rs.status
		if status == 0 {
			status = http.StatusOK
		}
		s := m.httpSeries(seriesKey{method: methodLabel(r.Method), route: routeLabel(rs.pattern), status: status})
		s.count.Inc()
		s.dur.Observe(time.Since(start).Seconds())
	})
}

// seriesKey names the HTTP series of a request; every field is bounded.
type seriesKey struct {
	method, route string
	status        int
}

type httpSeries struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// httpSeries finds k's series without building label slices on the
// request path (after the first request of each kind).
func (m *Metrics) httpSeries(k seriesKey) httpSeries {
	m.httpMu.RLock()
	s, ok := m.httpCache[k]
	m.httpMu.RUnlock()
	if ok {
		return s
	}
	s = httpSeries{
		count: m.httpRequests.WithLabelValues(k.method, k.route, statusLabel(k.status)),
		dur:   m.httpDuration.WithLabelValues(k.method, k.route),
	}
	m.httpMu.Lock()
	m.httpCache[k] = s
	m.httpMu.Unlock()
	return s
}

// statusLabel avoids an allocation for the usual codes.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 301:
		return "301"
	case 302:
		return "302"
	case 303:
		return "303"
	case 304:
		return "304"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 405:
		return "405"
	case 413:
		return "413"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	if code < 100 || code > 999 {
		return "other"
	}
	return strconv.Itoa(code)
}
