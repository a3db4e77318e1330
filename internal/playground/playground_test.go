package playground

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestManifest checks that every third-party file embedded is listed in
// assets/MANIFEST with its SHA-256, every file listed is embedded, and each
// package's licence is among them.
func TestManifest(t *testing.T) {
	t.Parallel()
	m, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, p := range m {
		if p.Version == "" {
			t.Errorf("package %s: no version", p.Name)
		}
		if _, ok := p.Files["LICENSE."+p.Name]; !ok {
			t.Errorf("package %s@%s: no LICENSE.%s among its files", p.Name, p.Version, p.Name)
		}
		for f, sum := range p.Files {
			listed[f] = sum
		}
	}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		t.Fatal(err)
	}
	embedded := map[string]bool{}
	for _, e := range entries {
		if e.Name() == "MANIFEST" {
			continue
		}
		embedded[e.Name()] = true
		b, err := fs.ReadFile(files, "assets/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		switch want, ok := listed[e.Name()]; {
		case !ok:
			t.Errorf("assets/%s is not in MANIFEST", e.Name())
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("assets/%s: SHA-256 %x, MANIFEST says %s: run scripts/playground-assets.sh", e.Name(), sum, want)
		}
	}
	for f := range listed {
		if !embedded[f] {
			t.Errorf("MANIFEST lists %s, which is not in assets/", f)
		}
	}
	for _, want := range []string{"graphiql", "react", "react-dom"} {
		found := false
		for _, p := range m {
			found = found || p.Name == want
		}
		if !found {
			t.Errorf("MANIFEST has no package %s", want)
		}
	}
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestPage(t *testing.T) {
	t.Parallel()
	h := Handler("/graphql")
	res := get(t, h, "/playground")
	body, _ := io.ReadAll(res.Body)
	page := string(body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self' ws://example.com wss://example.com;", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "http") || strings.Count(csp, "'unsafe-") != 1 || !strings.Contains(csp, "style-src 'self' 'unsafe-inline';") {
		t.Errorf("CSP %q: another origin, or 'unsafe-…' other than inline styles", csp)
	}
	if !strings.Contains(page, `data-endpoint="/graphql"`) || !strings.Contains(page, `id="token"`) {
		t.Errorf("page lacks the endpoint or the token field:\n%s", page)
	}
	// No inline script or handler: every script has a src on this origin.
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]`).MatchString(page) || regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(page) {
		t.Errorf("inline script in the page:\n%s", page)
	}
	srcs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(srcs) < 6 {
		t.Fatalf("the page loads %d files", len(srcs))
	}
	for _, m := range srcs {
		if !strings.HasPrefix(m[1], AssetsPath) {
			t.Errorf("the page loads %s, not from %s", m[1], AssetsPath)
			continue
		}
		res := get(t, h, m[1])
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || res.Header.Get("ETag") == "" {
			t.Errorf("%s: %d, Cache-Control %q, ETag %q", m[1], res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("ETag"))
		}
	}

	t.Run("host not named in the CSP when odd", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/playground", nil)
		r.Host = "evil; script-src *"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if csp := w.Result().Header.Get("Content-Security-Policy"); strings.Contains(csp, "evil") || !strings.Contains(csp, "connect-src 'self';") {
			t.Fatalf("CSP %q", csp)
		}
	})
}

func TestAssets(t *testing.T) {
	t.Parallel()
	h := Handler("/graphql")
	js := catalog()["graphiql.min.js"]
	url := js.URL()

	t.Run("gzip when accepted", func(t *testing.T) {
		res := get(t, h, url, "Accept-Encoding", "br, gzip")
		b, _ := io.ReadAll(res.Body)
		if res.Header.Get("Content-Encoding") != "gzip" || len(b) >= len(js.body) || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Fatalf("%s: encoding %q, %d bytes of %d", url, res.Header.Get("Content-Encoding"), len(b), len(js.body))
		}
	})
	t.Run("identity otherwise", func(t *testing.T) {
		for _, ae := range []string{"", "gzip;q=0", "br"} {
			res := get(t, h, url, "Accept-Encoding", ae)
			b, _ := io.ReadAll(res.Body)
			if res.Header.Get("Content-Encoding") != "" || string(b) != string(js.body) {
				t.Fatalf("Accept-Encoding %q: encoding %q, %d bytes", ae, res.Header.Get("Content-Encoding"), len(b))
			}
		}
	})
	t.Run("not modified", func(t *testing.T) {
		res := get(t, h, url, "If-None-Match", `"`+js.hash+`"`)
		if res.StatusCode != http.StatusNotModified {
			t.Fatalf("%d", res.StatusCode)
		}
	})
	t.Run("unknown addresses", func(t *testing.T) {
		for _, p := range []string{
			AssetsPath + "0000000000000000/graphiql.min.js",
			AssetsPath + js.hash[:16] + "/nothing.js",
			AssetsPath + js.hash[:16] + "/MANIFEST",
			AssetsPath + "graphiql.min.js",
			AssetsPath,
		} {
			if res := get(t, h, p); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d", p, res.StatusCode)
			}
		}
	})
}
