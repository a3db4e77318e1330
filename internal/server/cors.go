package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gatehouse/graph"
)

// CORSMaxAge is how long a browser may keep a preflight's answer.
const CORSMaxAge = 600 // seconds

// varyOrigin is shared by every answer: an Add to it copies (its
// capacity is its length).
var varyOrigin = []string{"Origin"}

// cors lets the pages of the configured origins (server.cors_origins,
// exact) call /graphql from a browser. A request from an allowed origin
// gets Access-Control-Allow-Origin naming that origin; a preflight
// (OPTIONS) is answered 204 with the allowed methods and headers and a
// max age. Credentials are never allowed: /graphql reads only the
// Authorization header, never a cookie, so the dashboard's cookie is of
// no use cross-site. A request from any other origin gets no CORS headers
// (the browser then refuses to hand the answer to the page) and its
// preflight 403. An OPTIONS that is no preflight is answered as before
// (405). Every answer to a request with an Origin varies by it.
type cors struct {
	origins []string
}

func (c cors) allowed(origin string) bool { return slices.Contains(c.origins, origin) }

// wrap serves next with CORS headers; preflights are answered here.
func (c cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			// Not a browser's cross-origin request (browsers send Origin
			// with every POST and every cross-origin request), and the
			// answers are Cache-Control: no-store: nothing to vary.
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if _, set := h["Vary"]; set {
			h.Add("Vary", "Origin")
		} else {
			h["Vary"] = varyOrigin
		}
		ok := origin != "" && c.allowed(origin)
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
			// Not a preflight: answered as any other request.
			next.ServeHTTP(w, r)
			return
		}
		if !ok {
			writeJSONError(w, http.StatusForbidden, graph.CodeBadRequest, "cross-origin requests are allowed only from the origins in server.cors_origins")
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", strconv.Itoa(CORSMaxAge))
		w.WriteHeader(http.StatusNoContent)
	})
}

// websocketOrigin reports whether a WebSocket upgrade may proceed: no
// Origin (not a browser), the server's own origin, or one listed.
func (c cors) websocketOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || c.allowed(origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// isWebsocket reports whether r asks to be upgraded to a WebSocket.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
