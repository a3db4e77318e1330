package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"gatehouse/views/layout"
)

// static holds the dashboard's stylesheet, its optional script and icon,
// served from the binary under /admin/static/.
//
//go:embed static
var static embed.FS

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets serves the embedded files. Pages link them with ?v=<hash>, so
// they may be cached for long: a new build changes the address.
type assets struct {
	files map[string]asset
	urls  layout.Assets
}

func loadAssets() (*assets, error) {
	a := &assets{files: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[strings.TrimPrefix(p, "static/")] = asset{body: b, contentType: ct, etag: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard assets: %w", err)
	}
	url := func(name string) (string, error) {
		f, ok := a.files[name]
		if !ok {
			return "", fmt.Errorf("dashboard assets: %s missing", name)
		}
		return "/admin/static/" + name + "?v=" + f.etag, nil
	}
	if a.urls.CSS, err = url("admin.css"); err != nil {
		return nil, err
	}
	if a.urls.JS, err = url("admin.js"); err != nil {
		return nil, err
	}
	if a.urls.Icon, err = url("icon.svg"); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[strings.TrimPrefix(r.URL.Path, "/admin/static/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", `"`+f.etag+`"`)
	if r.URL.Query().Get("v") == f.etag {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+f.etag+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}
