package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse/graph"
	"gatehouse/internal/auth"
	"gatehouse/internal/logging"
	"gatehouse/internal/tracing"
	"gatehouse/internal/viewer"
)

// RequestIDHeader carries the request id in responses (and is accepted
// from a trusted proxy).
const RequestIDHeader = "X-Request-Id"

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestID is the id of r: the X-Request-Id a trusted proxy sent, when it
// is a short plain token, else a new random one. A client's own header is
// never believed, so it cannot forge or inject log lines.
func requestID(r *http.Request, trusted []netip.Prefix) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(trusted) > 0 && validRequestID(id) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if peer, err := netip.ParseAddr(host); err == nil && isTrusted(peer.Unmap(), trusted) {
			return id
		}
	}
	return newRequestID()
}

func validRequestID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
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
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog gives each request an id (in its context and the response
// header) and writes one access line when it ends. The line never holds
// headers, bodies, tokens or query strings.
func requestLog(log *slog.Logger, trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r, trusted)
		w.Header().Set(RequestIDHeader, id)
		ri := &logging.RequestInfo{}
		ctx := logging.WithRequestInfo(logging.WithRequestID(r.Context(), id), ri)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if !log.Enabled(ctx, slog.LevelInfo) {
			return
		}
		op, viewerID := ri.Values()
		attrs := make([]slog.Attr, 0, 7)
		attrs = append(attrs,
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
		)
		if op != "" {
			attrs = append(attrs, slog.String("operation", op))
		}
		if viewerID != 0 {
			attrs = append(attrs, slog.Int("viewer_id", viewerID))
		}
		if id := tracing.TraceID(ctx); id != "" {
			attrs = append(attrs, slog.String("trace_id", id))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	})
}

// recoverPanics answers a panicking handler with a plain 500 and logs it.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "handler panicked", "panic", p, "stack", string(debug.Stack()))
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows nothing but this origin's own files: no
// inline script, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			writeJSONError(w, http.StatusRequestEntityTooLarge, graph.CodeBadRequest, graph.TooLargeMessage(n))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address of the client: the TCP peer, or, when the peer is
// a trusted proxy, the nearest untrusted address in X-Forwarded-For.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// withClientInfo records the client's address and user agent.
func withClientInfo(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := auth.ClientInfo{IP: clientIP(r, trusted), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(auth.WithClientInfo(r.Context(), ci)))
	})
}

// bearer authenticates "Authorization: Bearer <token>". A missing or
// failing token leaves the request anonymous: fields that need a viewer
// answer UNAUTHENTICATED, and login still works. Only a session that cannot
// be read answers 503; one whose use cannot be recorded (the database
// takes no writes) is served, and that is logged at most once a minute.
func bearer(a *auth.Service, log *slog.Logger, next http.Handler) http.Handler {
	var (
		lastTouchLog atomic.Int64 // unix nanoseconds
		touchFails   atomic.Int64 // since the last line logged
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		v, u, err := a.AuthenticateUser(ctx, strings.TrimSpace(token))
		switch {
		case err == nil:
		case v != nil && errors.Is(err, auth.ErrTouch):
			n := touchFails.Add(1)
			now, last := time.Now().UnixNano(), lastTouchLog.Load()
			if now-last >= int64(time.Minute) && lastTouchLog.CompareAndSwap(last, now) {
				touchFails.Add(-n)
				log.WarnContext(ctx, "could not record the use of a session; serving the request",
					"session_id", v.SessionID, "failures", n, "err", err)
			}
		case errors.Is(err, auth.ErrInvalidToken):
			next.ServeHTTP(w, r)
			return
		default:
			log.ErrorContext(ctx, "authenticate", "err", err)
			writeJSONError(w, http.StatusServiceUnavailable, "INTERNAL_SERVER_ERROR", "could not check the session; try again")
			return
		}
		logging.Info(ctx).SetViewer(v.UserID)
		next.ServeHTTP(w, r.WithContext(auth.WithUser(viewer.NewContext(ctx, v), u)))
	})
}

// writeJSONError answers in the GraphQL error shape, with a code from
// graph.Codes.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	graph.WriteError(w, status, code, msg)
}
