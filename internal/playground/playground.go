// Package playground serves the GraphQL playground: GraphiQL, its files
// embedded in the binary (assets/, refreshed by
// scripts/playground-assets.sh, listed with versions and hashes in
// assets/MANIFEST), mounted by a small page and script of our own
// (static/). Nothing the page loads comes from another origin, and its
// Content-Security-Policy allows scripts from this origin only.
package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Path is where the page is served; its files are under AssetsPath.
const (
	Path       = "/playground"
	AssetsPath = "/playground/assets/"
)

//go:embed assets static
var files embed.FS

// asset is one file the page loads, served at AssetsPath + hash + "/" + name.
type asset struct {
	name  string
	hash  string // hex SHA-256 of body
	body  []byte
	ctype string

	gzipOnce sync.Once
	gzipped  []byte // nil: not worth it
}

// URL is where the file is served: its hash is in the path, so a new
// version has a new address and every version can be cached for good.
func (a *asset) URL() string { return AssetsPath + a.hash[:16] + "/" + a.name }

func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		if !strings.HasSuffix(a.name, ".js") && !strings.HasSuffix(a.name, ".css") {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		if b.Len() < len(a.body) {
			a.gzipped = b.Bytes()
		}
	})
	return a.gzipped
}

// catalog is every file, by name.
var catalog = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	for _, dir := range []string{"assets", "static"} {
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			panic(err)
		}
		for _, e := range entries {
			if e.Name() == "MANIFEST" {
				continue
			}
			b, err := fs.ReadFile(files, dir+"/"+e.Name())
			if err != nil {
				panic(err)
			}
			sum := sha256.Sum256(b)
			m[e.Name()] = &asset{name: e.Name(), hash: hex.EncodeToString(sum[:]), body: b, ctype: contentType(e.Name())}
		}
	}
	return m
})

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}

// Package is one npm package the assets come from.
type Package struct {
	Name, Version string
	// Files maps each file copied from it to its hex SHA-256.
	Files map[string]string
}

// Manifest reads assets/MANIFEST: the npm packages the third-party files
// come from, in the order listed.
func Manifest() ([]Package, error) {
	b, err := fs.ReadFile(files, "assets/MANIFEST")
	if err != nil {
		return nil, err
	}
	var out []Package
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("assets/MANIFEST line %d: want package, version, file, sha256 separated by tabs", n)
		}
		if len(out) == 0 || out[len(out)-1].Name != f[0] || out[len(out)-1].Version != f[1] {
			out = append(out, Package{Name: f[0], Version: f[1], Files: map[string]string{}})
		}
		out[len(out)-1].Files[f[2]] = f[3]
	}
	return out, sc.Err()
}

var page = template.Must(template.New("playground").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse playground</title>
<link rel="stylesheet" href="{{.A.graphiqlCSS}}">
<link rel="stylesheet" href="{{.A.css}}">
</head>
<body>
<div class="gh-bar">
<label for="token">Bearer token <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="a session token from the login mutation (kept in this page only)"></label>
<span>GraphiQL {{.GraphiQL}} · licences: <a href="{{.A.licGraphiQL}}">GraphiQL</a>, <a href="{{.A.licReact}}">React</a></span>
</div>
<div id="graphiql" data-endpoint="{{.Endpoint}}">Loading the playground…</div>
<script src="{{.A.react}}"></script>
<script src="{{.A.reactDOM}}"></script>
<script src="{{.A.graphiql}}"></script>
<script src="{{.A.js}}"></script>
</body>
</html>
`))

// Handler serves the page (GET Path) pointed at the GraphQL endpoint, and
// its files (GET AssetsPath…). Mount it at both.
func Handler(endpoint string) http.Handler {
	files := catalog()
	a := map[string]string{}
	for key, name := range map[string]string{
		"graphiqlCSS": "graphiql.min.css", "css": "playground.css",
		"react": "react.production.min.js", "reactDOM": "react-dom.production.min.js",
		"graphiql": "graphiql.min.js", "js": "playground.js",
		"licGraphiQL": "LICENSE.graphiql", "licReact": "LICENSE.react",
	} {
		f, ok := files[name]
		if !ok {
			panic("playground: no embedded file " + name)
		}
		a[key] = f.URL()
	}
	version := ""
	if m, err := Manifest(); err == nil {
		for _, p := range m {
			if p.Name == "graphiql" {
				version = p.Version
			}
		}
	}
	var html bytes.Buffer
	if err := page.Execute(&html, map[string]any{"A": a, "Endpoint": endpoint, "GraphiQL": version}); err != nil {
		panic(err)
	}
	body := html.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == Path {
			h := w.Header()
			h.Set("Content-Security-Policy", CSP(r.Host))
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(body)
			return
		}
		serveAsset(w, r, files)
	})
}

// serveAsset serves AssetsPath + hash prefix + "/" + name when the hash
// is the file's: each address names one version, cached for a year.
func serveAsset(w http.ResponseWriter, r *http.Request, files map[string]*asset) {
	rest, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
	hash, name, ok2 := strings.Cut(rest, "/")
	f := files[name]
	if !ok || !ok2 || f == nil || len(hash) != 16 || !strings.HasPrefix(f.hash, hash) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+f.hash+`"`)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.hash) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if gz := f.gzip(); gz != nil && acceptsGzip(r) {
		body = gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

// hostRE is what a Host header may hold to be named in the CSP.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// CSP is the page's Content-Security-Policy: everything from this origin
// only, scripts never inline; styles may be inline (GraphiQL's dialogs
// add <style> elements: react-remove-scroll); data: images and fonts
// (GraphiQL's stylesheet embeds its fonts); WebSockets (subscriptions) to
// this host.
func CSP(host string) string {
	connect := "'self'"
	if hostRE.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src " + connect + "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}
