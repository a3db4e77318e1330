package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	s := apptest.Start(t, func(c *config.Config) { c.Server.CORSOrigins = []string{allowed} }, app.Options{})
	do := func(method, origin string, header map[string]string, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+"/graphql", strings.NewReader(body))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	query := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, method, origin string
		header               map[string]string
		body                 string
		status               int
		allow                string // Access-Control-Allow-Origin wanted ("" none)
	}{
		{name: "preflight from a listed origin", method: http.MethodOptions, origin: allowed, header: preflight, status: http.StatusNoContent, allow: allowed},
		{name: "preflight from another origin", method: http.MethodOptions, origin: "https://evil.example.com", header: preflight, status: http.StatusForbidden},
		{name: "OPTIONS that is no preflight", method: http.MethodOptions, origin: allowed, status: http.StatusMethodNotAllowed, allow: allowed},
		{name: "OPTIONS without an origin", method: http.MethodOptions, status: http.StatusMethodNotAllowed},
		{name: "query from a listed origin", method: http.MethodPost, origin: allowed, header: query, body: `{"query":"{ __typename }"}`, status: http.StatusOK, allow: allowed},
		{name: "query from another origin", method: http.MethodPost, origin: "https://evil.example.com", header: query, body: `{"query":"{ __typename }"}`, status: http.StatusOK},
		{name: "query without an origin", method: http.MethodPost, header: query, body: `{"query":"{ __typename }"}`, status: http.StatusOK},
		{name: "GET without a query", method: http.MethodGet, origin: allowed, status: http.StatusBadRequest, allow: allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(tc.method, tc.origin, tc.header, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			h := res.Header
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.allow {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.allow)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials %q", got)
			}
			if tc.origin != "" && !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
			}
			if tc.status == http.StatusNoContent {
				for k, want := range map[string]string{
					"Access-Control-Allow-Methods": "GET, POST",
					"Access-Control-Allow-Headers": "Authorization, Content-Type",
					"Access-Control-Max-Age":       "600",
				} {
					if got := h.Get(k); got != want {
						t.Errorf("%s %q, want %q", k, got, want)
					}
				}
			} else if h.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("Access-Control-Allow-Methods on a %d", tc.status)
			}
		})
	}
}
