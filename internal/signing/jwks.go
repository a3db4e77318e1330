package signing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// JWKSPath is where the public keys are served.
const JWKSPath = "/.well-known/jwks.json"

// JWKSMaxAge is how long clients and caches may keep the JWKS. A new key
// signs as soon as it is made, so a verifier that meets an unknown kid
// should fetch the set again (at most this stale).
const JWKSMaxAge = 5 * time.Minute

// Handler serves the JWKS (GET and HEAD) with caching headers: public,
// max-age JWKSMaxAge, and an ETag of its content (If-None-Match answers
// 304). Errors are logged and answered generically.
func (s *Signer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		set, err := s.JWKS(ctx)
		var body []byte
		if err == nil {
			body, err = json.Marshal(set)
		}
		if err != nil {
			s.opts.Logger.ErrorContext(r.Context(), "serving the JWKS", "err", err)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(JWKSMaxAge/time.Second)))
		h.Set("ETag", etag)
		h.Set("Access-Control-Allow-Origin", "*")
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(append(body, '\n'))
	})
}

// etagMatches reports whether an If-None-Match header names etag (or *).
func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || part == etag || part == "W/"+etag {
			return true
		}
	}
	return false
}
