package server_test

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
)

func get(t *testing.T, url string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestHealthAndReadiness(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	if code, body, _ := get(t, s.URL+"/healthz", nil); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body, _ := get(t, s.URL+"/readyz", nil); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	// The database goes away: not ready, but the process is still up.
	s.App.DB.Close()
	if code, body, _ := get(t, s.URL+"/readyz", nil); code != http.StatusServiceUnavailable || body != "database unreachable\n" {
		t.Fatalf("/readyz without a database = %d %q", code, body)
	}
	if code, _, _ := get(t, s.URL+"/healthz", nil); code != 200 {
		t.Fatalf("/healthz without a database = %d", code)
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRequestIDHeader(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		sent    string
		want    string // "" = a generated id
	}{
		{"no header", nil, "", ""},
		{"a client's id is not believed", nil, "client-chosen-id", ""},
		{"a trusted proxy's id is kept", []string{"127.0.0.1"}, "lb-7f3a.42", "lb-7f3a.42"},
		{"a trusted proxy's id with odd characters is replaced", []string{"127.0.0.1"}, "bad id\"injected", ""},
		{"other proxies are not trusted", []string{"10.0.0.0/8"}, "lb-7f3a.42", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apptest.Start(t, func(c *config.Config) { c.Server.TrustedProxies = tt.trusted }, app.Options{})
			h := map[string]string{}
			if tt.sent != "" {
				h["X-Request-Id"] = tt.sent
			}
			_, _, hdr := get(t, s.URL+"/healthz", h)
			got := hdr.Get("X-Request-Id")
			if tt.want != "" && got != tt.want || tt.want == "" && !generatedID.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want %q", got, map[bool]string{true: "a generated id", false: tt.want}[tt.want == ""])
			}
			_, _, hdr2 := get(t, s.URL+"/healthz", h)
			if tt.want == "" && hdr2.Get("X-Request-Id") == got {
				t.Error("two requests got the same generated id")
			}
		})
	}
}
