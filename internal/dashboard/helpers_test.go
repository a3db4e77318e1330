package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// Passwords of the accounts tests create.
const (
	adminPW = "admin-password-1"
	userPW  = "user-password-1"
)

// start runs Gatehouse with the dashboard on a fresh database.
func start(t *testing.T, adjust func(*config.Config)) *apptest.Server {
	t.Helper()
	return apptest.Start(t, adjust, app.Options{Dashboard: apptest.Dashboard})
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each answer.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	// header is added to every request.
	header http.Header
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, header: http.Header{}, c: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// page is an answer: status, headers, body and the parsed document.
type page struct {
	t      *testing.T
	Status int
	Header http.Header
	Body   string
	doc    *html.Node
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	for k, vs := range b.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatalf("read %s: %v", req.URL, err)
	}
	p := &page{t: b.t, Status: res.StatusCode, Header: res.Header, Body: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(strings.NewReader(p.Body)); err != nil {
			b.t.Fatalf("parse %s: %v", req.URL, err)
		}
	}
	return p
}

func (b *browser) get(path string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form as a same-origin browser would (Origin and
// Sec-Fetch-Site headers), plus extra headers (which replace those).
func (b *browser) post(path string, form url.Values, extra ...string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			req.Header.Del(extra[i])
		} else {
			req.Header.Set(extra[i], extra[i+1])
		}
	}
	return b.do(req)
}

// follow GETs the page a redirect points at.
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	p.wantStatus(http.StatusSeeOther)
	return b.get(p.Header.Get("Location"))
}

// signIn signs in through the form and checks it worked.
func signIn(t *testing.T, s *apptest.Server, username, password string) *browser {
	t.Helper()
	b := newBrowser(t, s.URL)
	p := b.post("/admin/login", url.Values{"username": {username}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/admin/" {
		t.Fatalf("sign in as %s: status %d, location %q, body %s", username, p.Status, p.Header.Get("Location"), p.text())
	}
	return b
}

func (p *page) wantStatus(want int) *page {
	p.t.Helper()
	if p.Status != want {
		p.t.Fatalf("status = %d, want %d; page says: %s", p.Status, want, p.text())
	}
	return p
}

// wantText checks that the page's visible text contains each of want.
func (p *page) wantText(want ...string) *page {
	p.t.Helper()
	txt := p.text()
	for _, w := range want {
		if !strings.Contains(txt, w) {
			p.t.Fatalf("page (status %d) does not say %q; it says: %s", p.Status, w, txt)
		}
	}
	return p
}

// wantNoText checks that the page's visible text contains none of want.
func (p *page) wantNoText(want ...string) *page {
	p.t.Helper()
	txt := p.text()
	for _, w := range want {
		if strings.Contains(txt, w) {
			p.t.Fatalf("page (status %d) says %q but should not: %s", p.Status, w, txt)
		}
	}
	return p
}

// wantRedirect checks a 303 to a location starting with prefix.
func (p *page) wantRedirect(prefix string) *page {
	p.t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), prefix) {
		p.t.Fatalf("want 303 to %s…, got %d to %q: %s", prefix, p.Status, p.Header.Get("Location"), p.text())
	}
	return p
}

// text is the page's visible text, whitespace collapsed.
func (p *page) text() string {
	if p.doc == nil {
		return strings.Join(strings.Fields(p.Body), " ")
	}
	return strings.Join(strings.Fields(textOf(p.doc)), " ")
}

func textOf(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "head") {
			return
		}
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	for _, c := range strings.Fields(v) {
		if c == class {
			return true
		}
	}
	return false
}

// findAll returns the elements for which keep is true, in document order.
func findAll(root *html.Node, keep func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && keep(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

// control returns the form control named name (the last one: a checkbox
// follows its hidden "false").
func (p *page) control(name string) *html.Node {
	p.t.Helper()
	if p.doc == nil {
		p.t.Fatalf("not an HTML page: %s", p.Body)
	}
	if !strings.HasSuffix(name, ".q") && p.isPicker(name) {
		return p.control(name + ".q") // a picker's search box shows its errors
	}
	cs := findAll(p.doc, func(n *html.Node) bool {
		v, ok := attr(n, "name")
		t, _ := attr(n, "type")
		return ok && v == name && t != "hidden" && (n.Data == "input" || n.Data == "select" || n.Data == "textarea")
	})
	if len(cs) == 0 {
		p.t.Fatalf("page has no field %q: %s", name, p.text())
	}
	return cs[len(cs)-1]
}

// attrOf is an attribute of the element with the HTML id.
func (p *page) attrOf(id, name string) string {
	p.t.Helper()
	es := findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(es) == 0 {
		p.t.Fatalf("page has no element #%s: %s", id, p.text())
	}
	v, _ := attr(es[0], name)
	return v
}

// hidden is the value of the hidden input named name.
func (p *page) hidden(name string) string {
	p.t.Helper()
	hs := findAll(p.doc, func(n *html.Node) bool {
		v, _ := attr(n, "name")
		t, _ := attr(n, "type")
		return n.Data == "input" && t == "hidden" && v == name
	})
	if len(hs) == 0 {
		p.t.Fatalf("page has no hidden field %q", name)
	}
	v, _ := attr(hs[0], "value")
	return v
}

// value is what the field named name shows: an input's value, a select's
// chosen option, a textarea's text, "true"/"false" for a checkbox, the
// value a picker chose.
func (p *page) value(name string) string {
	p.t.Helper()
	if p.isPicker(name) {
		return p.picked(name)
	}
	n := p.control(name)
	switch n.Data {
	case "textarea":
		return strings.TrimPrefix(textOfRaw(n), "\n")
	case "select":
		for _, o := range findAll(n, func(o *html.Node) bool { return o.Data == "option" }) {
			if _, sel := attr(o, "selected"); sel {
				v, _ := attr(o, "value")
				return v
			}
		}
		return ""
	}
	if t, _ := attr(n, "type"); t == "checkbox" {
		_, checked := attr(n, "checked")
		return strconv.FormatBool(checked)
	}
	v, _ := attr(n, "value")
	return v
}

func textOfRaw(n *html.Node) string {
	var sb strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			sb.WriteString(c.Data)
		}
	}
	return sb.String()
}

// fieldError is the error shown beside the field named name: the text of
// the .field-error in the same .field as the control, which the control
// names in aria-describedby and marks aria-invalid. "" when there is none.
func (p *page) fieldError(name string) string {
	p.t.Helper()
	n := p.control(name)
	box := n.Parent
	for box != nil && !hasClass(box, "field") {
		box = box.Parent
	}
	if box == nil {
		p.t.Fatalf("field %q is not inside a .field", name)
	}
	errs := findAll(box, func(e *html.Node) bool { return hasClass(e, "field-error") })
	if len(errs) == 0 {
		if v, _ := attr(n, "aria-invalid"); v == "true" {
			p.t.Fatalf("field %q is aria-invalid without an error shown", name)
		}
		return ""
	}
	id, _ := attr(errs[0], "id")
	if d, _ := attr(n, "aria-describedby"); !strings.Contains(" "+d+" ", " "+id+" ") {
		p.t.Fatalf("field %q: aria-describedby %q does not name its error %q", name, d, id)
	}
	if v, _ := attr(n, "aria-invalid"); v != "true" {
		p.t.Fatalf("field %q shows an error but is not aria-invalid", name)
	}
	return strings.Join(strings.Fields(textOf(errs[0])), " ")
}

// wantFieldError checks the error beside a field contains want.
func (p *page) wantFieldError(name, want string) *page {
	p.t.Helper()
	got := p.fieldError(name)
	if !strings.Contains(got, want) {
		p.t.Fatalf("error beside %q = %q, want it to contain %q; page: %s", name, got, want, p.text())
	}
	return p
}

// wantValue checks what a field shows.
func (p *page) wantValue(name, want string) *page {
	p.t.Helper()
	if got := p.value(name); got != want {
		p.t.Fatalf("field %q shows %q, want %q", name, got, want)
	}
	return p
}

// flash is the flash message's text, or "".
func (p *page) flash() string {
	p.t.Helper()
	if p.doc == nil {
		return ""
	}
	fs := findAll(p.doc, func(n *html.Node) bool { return hasClass(n, "flash") })
	if len(fs) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(textOf(fs[0])), " ")
}

func (p *page) wantFlash(want string) *page {
	p.t.Helper()
	if got := p.flash(); !strings.Contains(got, want) {
		p.t.Fatalf("flash = %q, want it to contain %q; page: %s", got, want, p.text())
	}
	return p
}

// links returns the hrefs of the page's links whose text contains label.
func (p *page) links(label string) []string {
	var out []string
	for _, a := range findAll(p.doc, func(n *html.Node) bool { return n.Data == "a" }) {
		if strings.Contains(strings.Join(strings.Fields(textOf(a)), " "), label) {
			h, _ := attr(a, "href")
			out = append(out, h)
		}
	}
	return out
}

// link returns the href of the first link whose text contains label.
func (p *page) link(label string) string {
	p.t.Helper()
	ls := p.links(label)
	if len(ls) == 0 {
		p.t.Fatalf("page has no link %q: %s", label, p.text())
	}
	return ls[0]
}

// world is a database with one of everything.
type world struct {
	admin, user   *ent.User
	feature       *ent.Feature // moe_gatherer, a switch Gold grants
	pkg           *ent.Pkg
	content       *ent.PackageContent
	assignment    *ent.UserPackage
	session       *ent.UserSession
	sessionToken  string
	adminUsername string
}

// sys is a context that may do anything (setting up tests).
func sys() context.Context { return viewer.System(context.Background()) }

// adminCtx is a context of an admin viewer.
func adminCtx(id int) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: id, Role: viewer.RoleAdmin})
}

func seed(t *testing.T, s *apptest.Server) *world {
	t.Helper()
	w := &world{adminUsername: "root"}
	w.admin = s.CreateUser("root", adminPW, user.RoleADMIN)
	w.user = s.CreateUser("alice", userPW, user.RoleUSER)
	ctx := adminCtx(w.admin.ID)
	svc := s.App.Service
	detail := "The gold tier"
	var err error
	for _, f := range seedFeatures {
		ft, err := svc.CreateFeature(ctx, service.CreateFeatureInput{Key: f.key, Name: f.name, Kind: f.kind})
		if err != nil {
			t.Fatalf("create feature %s: %v", f.key, err)
		}
		if w.feature == nil {
			w.feature = ft
		}
	}
	w.pkg, err = svc.CreatePackage(ctx, service.CreatePackageInput{
		Name: "Gold", Detail: &detail, Days: 30,
		Contents: []*service.PackageContentInput{
			{Name: "Moe gatherer", FeatureKey: "moe_gatherer"},
			{Name: "Cloud sync", FeatureKey: "cloud_sync"},
		},
	})
	if err != nil {
		t.Fatalf("create package: %v", err)
	}
	if w.content, err = w.pkg.QueryContents().Where(packagecontent.Name("Moe gatherer")).Only(ctx); err != nil {
		t.Fatalf("content: %v", err)
	}
	if w.assignment, err = svc.AssignPackage(ctx, service.AssignPackageInput{UserID: w.user.ID, PackageID: w.pkg.ID}); err != nil {
		t.Fatalf("assign: %v", err)
	}
	label := "build server"
	p, err := svc.IssueSession(ctx, service.IssueSessionInput{UserID: w.user.ID, Label: &label}, auth.ClientInfo{IP: "192.0.2.7"})
	if err != nil {
		t.Fatalf("issue session: %v", err)
	}
	w.session, w.sessionToken = p.Session, p.Token
	return w
}

// seedFeatures is the catalogue seed defines: four switches and a limit.
var seedFeatures = []struct {
	key, name string
	kind      feature.Kind
}{
	{"moe_gatherer", "Moe gatherer", feature.KindSWITCH},
	{"cloud_sync", "Cloud sync", feature.KindSWITCH},
	{"auto_gather", "Auto gather", feature.KindSWITCH},
	{"priority_support", "Priority support", feature.KindSWITCH},
	{"projects", "Projects", feature.KindLIMIT},
}

func intp(n int) *int { return &n }

func itoa(n int) string { return strconv.Itoa(n) }
