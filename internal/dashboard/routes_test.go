package dashboard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// route is one dashboard page and what an admin sees on it.
type route struct {
	path  string
	title string   // the page's <h1>
	want  []string // more text an admin sees
}

func pageRoutes(w *world) []route {
	u, p, c, a, s := itoa(w.user.ID), itoa(w.pkg.ID), itoa(w.content.ID), itoa(w.assignment.ID), itoa(w.session.ID)
	f := itoa(w.feature.ID)
	return []route{
		{"/admin/", "Overview", []string{"Users", "Expiring in the next 7 days", "Recent sessions", "build server"}},
		{"/admin/users", "Users", []string{"alice", "root", "Last sign-in"}},
		{"/admin/users/new", "New user", []string{"Username", "Password", "Role"}},
		{"/admin/users/" + u, "alice", []string{"Gold", "build server", "Revoke all sessions", "moe_gatherer", "cloud_sync", "Moe gatherer", "active"}},
		{"/admin/users/" + u + "/edit", "Edit user alice", []string{"New password", "Leave empty to keep the current password"}},
		{"/admin/users/" + u + "/delete", "Delete user alice?", []string{"1 user package", "1 session", "Gold"}},
		{"/admin/features", "Features", []string{"moe_gatherer", "Moe gatherer", "projects", "limit", "switch"}},
		{"/admin/features/new", "New feature", []string{"Key", "Name", "Description", "Kind"}},
		{"/admin/features/" + f, "Moe gatherer", []string{"moe_gatherer", "switch", "Granted by", "Gold"}},
		{"/admin/features/" + f + "/edit", "Edit feature moe_gatherer", []string{"The key cannot change"}},
		{"/admin/features/" + f + "/delete", "Delete feature moe_gatherer?", []string{"cannot be deleted"}},
		{"/admin/packages", "Packages", []string{"Gold", "moe_gatherer", "cloud_sync"}},
		{"/admin/packages/new", "New package", []string{"Contents", "Add a content row"}},
		{"/admin/packages/" + p, "Gold", []string{"The gold tier", "Moe gatherer", "alice"}},
		{"/admin/packages/" + p + "/edit", "Edit package Gold", []string{"Contents"}},
		{"/admin/packages/" + p + "/delete", "Delete package Gold?", []string{"assigned 1 time", "Moe gatherer"}},
		{"/admin/package-contents", "Package contents", []string{"Moe gatherer", "Cloud sync", "Gold"}},
		{"/admin/package-contents/new", "New package content", []string{"Package", "Feature", "Limit"}},
		{"/admin/package-contents/" + c, "Moe gatherer", []string{"moe_gatherer", "Moe gatherer", "Gold"}},
		{"/admin/package-contents/" + c + "/edit", "Edit content Moe gatherer", []string{"Gold"}},
		{"/admin/package-contents/" + c + "/delete", "Delete package content Moe gatherer?", []string{"lose this feature at once"}},
		{"/admin/user-packages", "User packages", []string{"alice", "Gold", "ACTIVE"}},
		{"/admin/user-packages/new", "Assign a package", []string{"User", "Package", "Days"}},
		{"/admin/user-packages/" + a, "alice · Gold", []string{"Extend by days", "ACTIVE", "Suspend", "Reason"}},
		{"/admin/user-packages/" + a + "/edit", "Edit alice · Gold", []string{"Starts at (UTC)", "Expires at (UTC)"}},
		{"/admin/user-packages/" + a + "/delete", "Delete user package alice · Gold?", []string{"loses the package's features"}},
		{"/admin/sessions", "Sessions", []string{"alice", "build server", "192.0.2.7"}},
		{"/admin/sessions/new", "Issue a session", []string{"User", "Label"}},
		{"/admin/sessions/" + s, "Session #" + s + " of alice", []string{"build server", "192.0.2.7", "active"}},
		{"/admin/sessions/" + s + "/edit", "Edit Session #" + s + " of alice", []string{"Expires at (UTC)"}},
		{"/admin/sessions/" + s + "/delete", "Delete session #" + s + " of alice?", []string{"Its token stops working"}},
	}
}

// postRoutes are every state-changing route, with a form that would
// change something.
func postRoutes(w *world) map[string]url.Values {
	u, p, c, a, s := itoa(w.user.ID), itoa(w.pkg.ID), itoa(w.content.ID), itoa(w.assignment.ID), itoa(w.session.ID)
	f := itoa(w.feature.ID)
	return map[string]url.Values{
		"/admin/features/new":                      {"key": {"evil"}, "name": {"Evil"}, "kind": {"SWITCH"}},
		"/admin/features/" + f + "/edit":           {"name": {"Evil"}},
		"/admin/features/" + f + "/delete":         {},
		"/admin/users/new":                         {"username": {"mallory"}, "password": {"mallory-password"}, "role": {"ADMIN"}},
		"/admin/users/" + u + "/edit":              {"username": {"alice"}, "role": {"ADMIN"}, "disabled": {"false"}},
		"/admin/users/" + u + "/delete":            {},
		"/admin/users/" + u + "/revoke-sessions":   {},
		"/admin/packages/new":                      {"name": {"Evil"}, "days": {"1"}},
		"/admin/packages/" + p + "/edit":           {"name": {"Evil"}, "days": {"1"}},
		"/admin/packages/" + p + "/delete":         {},
		"/admin/package-contents/new":              {"packageID": {p}, "name": {"Evil"}, "featureKey": {"auto_gather"}},
		"/admin/package-contents/" + c + "/edit":   {"name": {"Evil"}, "featureKey": {"auto_gather"}},
		"/admin/package-contents/" + c + "/delete": {},
		"/admin/user-packages/new":                 {"userID": {u}, "packageID": {p}},
		"/admin/user-packages/" + a + "/edit":      {"startsAt": {"2030-01-01T00:00"}, "expiresAt": {"2031-01-01T00:00"}},
		"/admin/user-packages/" + a + "/extend":    {"extendDays": {"365"}},
		"/admin/user-packages/" + a + "/suspend":   {"reason": {"cross-site"}},
		"/admin/user-packages/" + a + "/resume":    {},
		"/admin/user-packages/" + a + "/delete":    {},
		"/admin/sessions/new":                      {"userID": {u}},
		"/admin/sessions/" + s + "/edit":           {"expiresAt": {"2030-01-01T00:00"}},
		"/admin/sessions/" + s + "/revoke":         {},
		"/admin/sessions/" + s + "/delete":         {},
	}
}

func h1(p *page) string {
	hs := findAll(p.doc, func(n *html.Node) bool { return n.Data == "h1" })
	if len(hs) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(textOf(hs[0])), " ")
}

// TestRoutesByViewer: anonymous visitors and USER accounts (who cannot
// sign in) are sent to the sign-in page from every route; an admin sees
// every page.
func TestRoutesByViewer(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)

	// A USER account cannot sign in at all: the same answer as a wrong
	// password, and no session cookie that opens any page.
	userBrowser := newBrowser(t, s.URL)
	userBrowser.post("/admin/login", url.Values{"username": {"alice"}, "password": {userPW}}).
		wantStatus(http.StatusUnauthorized).
		wantText("invalid username or password")

	viewers := []struct {
		name string
		b    *browser
	}{
		{"anonymous", newBrowser(t, s.URL)},
		{"user", userBrowser},
		{"admin", signIn(t, s, "root", adminPW)},
	}
	for _, v := range viewers {
		for _, rt := range pageRoutes(w) {
			t.Run(v.name+" GET "+rt.path, func(t *testing.T) {
				v.b.t = t
				p := v.b.get(rt.path)
				if v.name != "admin" {
					p.wantRedirect("/admin/login")
					return
				}
				p.wantStatus(http.StatusOK)
				if got := h1(p); got != rt.title {
					t.Fatalf("h1 = %q, want %q", got, rt.title)
				}
				p.wantText(rt.want...)
				if ct := p.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Fatalf("content type %q", ct)
				}
			})
		}
		if v.name == "admin" {
			continue
		}
		for path, form := range postRoutes(w) {
			t.Run(v.name+" POST "+path, func(t *testing.T) {
				v.b.t = t
				v.b.post(path, form).wantRedirect("/admin/login")
			})
		}
	}

	// Nothing the refused POSTs asked for happened.
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	if n, _ := c.User.Query().Count(ctx); n != 2 {
		t.Fatalf("users = %d, want 2", n)
	}
	if p, err := c.Pkg.Get(ctx, w.pkg.ID); err != nil || p.Name != "Gold" {
		t.Fatalf("package = %v, %v", p, err)
	}
	if ss, err := c.UserSession.Get(ctx, w.session.ID); err != nil || ss.RevokedAt != nil {
		t.Fatalf("session = %+v, %v", ss, err)
	}
	if up, err := c.UserPackage.Get(ctx, w.assignment.ID); err != nil || up.SuspendedAt != nil {
		t.Fatalf("assignment = %+v, %v", up, err)
	}
}

// TestAnonymousRedirectRemembersPage: after signing in, the admin lands on
// the page they asked for.
func TestAnonymousRedirectRemembersPage(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := newBrowser(t, s.URL)
	loc := b.get("/admin/packages?sort=days&dir=desc").wantRedirect("/admin/login").Header.Get("Location")
	lp := b.get(loc).wantStatus(http.StatusOK)
	next := lp.hidden("next")
	if next != "/admin/packages?sort=days&dir=desc" {
		t.Fatalf("next = %q", next)
	}
	b.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}, "next": {next}}).
		wantRedirect("/admin/packages?sort=days&dir=desc")
	// A next that leaves the dashboard is ignored.
	b2 := newBrowser(t, s.URL)
	b2.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}, "next": {"//evil.example/admin/"}}).
		wantRedirect("/admin/")
	if loc := b2.post("/admin/logout", nil).Header.Get("Location"); loc != "/admin/login" {
		t.Fatalf("logout went to %q", loc)
	}
	b3 := newBrowser(t, s.URL)
	if loc := b3.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}, "next": {"https://evil.example/"}}).Header.Get("Location"); loc != "/admin/" {
		t.Fatalf("login with a foreign next went to %q", loc)
	}
}

// TestNotFound: bad ids and unknown pages answer a 404 page.
func TestNotFound(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	for _, path := range []string{
		"/admin/users/999999", "/admin/users/abc", "/admin/users/0", "/admin/users/-1", "/admin/users/01",
		"/admin/users/99999999999999999999999", "/admin/users/999999/edit", "/admin/users/999999/delete",
		"/admin/packages/999999", "/admin/packages/x/edit", "/admin/package-contents/999999",
		"/admin/user-packages/999999/delete", "/admin/sessions/999999/edit", "/admin/nothing-here",
	} {
		t.Run(path, func(t *testing.T) {
			b.t = t
			b.get(path).wantStatus(http.StatusNotFound).wantText("Page not found")
		})
	}
	for _, path := range []string{"/admin/users/999999/delete", "/admin/sessions/999999/revoke", "/admin/user-packages/abc/extend"} {
		t.Run("POST "+path, func(t *testing.T) {
			b.t = t
			b.post(path, url.Values{}).wantStatus(http.StatusNotFound).wantText("Page not found")
		})
	}
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]`)
	styleAttr    = regexp.MustCompile(`(?i)<[a-z][^>]*\sstyle\s*=`)
	styleBlock   = regexp.MustCompile(`(?i)<style[\s>]`)
	eventAttr    = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
)

// TestPagesSecurity: every page carries the security headers and needs
// neither inline script nor inline style (the CSP forbids both); the
// stylesheet and script come from the binary.
func TestPagesSecurity(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	paths := []string{"/admin/login"}
	for _, rt := range pageRoutes(w) {
		paths = append(paths, rt.path)
	}
	anon := newBrowser(t, s.URL)
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			b.t, anon.t = t, t
			p := b.get(path)
			if path == "/admin/login" {
				p = anon.get(path)
			}
			p.wantStatus(http.StatusOK)
			for h, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "same-origin",
			} {
				if got := p.Header.Get(h); got != want {
					t.Fatalf("%s = %q, want %q", h, got, want)
				}
			}
			csp := p.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Fatalf("CSP %q lacks %q", csp, want)
				}
			}
			for name, re := range map[string]*regexp.Regexp{
				"inline script": inlineScript, "style attribute": styleAttr, "style block": styleBlock, "event handler attribute": eventAttr,
			} {
				if m := re.FindString(p.Body); m != "" {
					t.Fatalf("page has an %s: %s", name, m)
				}
			}
		})
	}

	lp := anon.get("/admin/login")
	links := findAll(lp.doc, func(n *html.Node) bool { return n.Data == "link" || n.Data == "script" })
	if len(links) < 2 {
		t.Fatalf("login page links no stylesheet or script")
	}
	for _, n := range links {
		href, ok := attr(n, "href")
		if !ok {
			href, _ = attr(n, "src")
		}
		if !strings.HasPrefix(href, "/admin/static/") {
			t.Fatalf("asset %q is not served by the dashboard", href)
		}
		a := anon.get(href).wantStatus(http.StatusOK)
		if len(a.Body) < 100 {
			t.Fatalf("asset %s is nearly empty", href)
		}
		if !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("versioned asset %s is not cacheable: %q", href, a.Header.Get("Cache-Control"))
		}
		if strings.HasSuffix(strings.Split(href, "?")[0], ".css") && !strings.HasPrefix(a.Header.Get("Content-Type"), "text/css") {
			t.Fatalf("stylesheet served as %q", a.Header.Get("Content-Type"))
		}
	}
	anon.get("/admin/static/nope.css").wantStatus(http.StatusNotFound)
}
