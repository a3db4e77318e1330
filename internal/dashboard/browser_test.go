package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

// chromiumPath finds Debian's chromium.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// tab drives one browser tab against the test server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// chromium is the one browser the browser tests share: each tab opens in
// a browser context of its own (its own cookies and storage, as a separate
// profile would), so the tests run in parallel without a browser each.
// TestMain closes it.
var chromium struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.cancel != nil {
		chromium.cancel()
		os.RemoveAll(chromium.dir)
	}
	os.Exit(code)
}

// startChromium starts the shared browser.
func startChromium(path string) {
	chromium.dir, chromium.err = os.MkdirTemp("", "gatehouse-chromium-")
	if chromium.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(chromium.dir),
	)
	// Everything the browser does is bounded.
	root, cancelRoot := context.WithTimeout(context.Background(), 4*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	chromium.ctx = ctx
	chromium.cancel = func() { cancelCtx(); cancelAlloc(); cancelRoot() }
	chromium.err = chromedp.Do(ctx)
}

// newTab opens a tab of width × height CSS pixels, in a browser context
// of its own, that closes when the test ends.
func newTab(t *testing.T, base string, width, height int) *tab {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("chromium is not installed (apt-get install -y chromium); CI installs it")
		}
		t.Fatal("chromium is not installed, and CI must run the browser test")
	}
	chromium.once.Do(func() { startChromium(path) })
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	ctx, cancel := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base}
}

// step runs one user step with its own deadline.
func (b *tab) step(what string, fn func(ctx context.Context) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.bodyText())
	}
}

// open navigates to path and checks the answer's status.
func (b *tab) open(path string, status int) {
	b.t.Helper()
	b.step("open "+path, func(ctx context.Context) error {
		res, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
		if err != nil {
			return err
		}
		if int(res.Status) != status {
			return fmt.Errorf("status %d, want %d", res.Status, status)
		}
		return nil
	})
}

// click clicks what sel finds and waits for the page it leads to.
func (b *tab) click(sel string, status int) {
	b.t.Helper()
	b.step("click "+sel, func(ctx context.Context) error {
		res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			return err
		}
		if int(res.Status) != status {
			return fmt.Errorf("status %d, want %d", res.Status, status)
		}
		return nil
	})
}

// typeInto replaces what a text field holds by typing.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.step("type into "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)),
			chromedp.SendKeys(chromedp.CSS(sel), text),
		)
	})
}

// setValue sets a field's value (date pickers, selects by value).
func (b *tab) setValue(sel, value string) {
	b.t.Helper()
	b.step("set "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(sel), value))
	})
}

// choose picks the option whose label contains label, as a person does:
// the select's change event fires.
func (b *tab) choose(sel, label string) {
	b.t.Helper()
	b.step("choose "+label+" in "+sel, func(ctx context.Context) error {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
			const s = document.querySelector(%q);
			if (!s) return false;
			const o = Array.from(s.options).find(o => o.textContent.includes(%q));
			if (!o) return false;
			s.value = o.value;
			s.dispatchEvent(new Event("change", {bubbles: true}));
			return true;
		})()`, sel, label)))
		if err == nil && !ok {
			err = fmt.Errorf("no option %q", label)
		}
		return err
	})
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.Join(strings.Fields(b.read(sel, "e.innerText")), " ")
}

// selected is the label of a select's chosen option.
func (b *tab) selected(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(b.read(sel, "e.selectedOptions.length ? e.selectedOptions[0].textContent : ''"))
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	return b.read(sel, "e.value")
}

// read evaluates expr, an expression of the element e that sel finds on
// the page as it is now: a step that leads to a page ends when that page
// has loaded, so one round trip reads it, with no polling.
func (b *tab) read(sel, expr string) string {
	b.t.Helper()
	var out *string
	b.step("read "+sel, func(ctx context.Context) error {
		var err error
		out, err = chromedp.Run(ctx, chromedp.Evaluate[*string](fmt.Sprintf(
			`(() => { const e = document.querySelector(%q); return e ? String(%s) : null; })()`, sel, expr)))
		if err == nil && out == nil {
			err = fmt.Errorf("no element %s on the page", sel)
		}
		return err
	})
	return *out
}

// bodyText is the page's visible text (for failure messages).
func (b *tab) bodyText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return strings.Join(strings.Fields(s), " ")
}

func (b *tab) html() string {
	b.t.Helper()
	var out string
	b.step("read the page", func(ctx context.Context) error {
		var err error
		out, err = chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		return err
	})
	return out
}

// see checks the page shows each of want.
func (b *tab) see(want ...string) {
	b.t.Helper()
	got := b.bodyText()
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Fatalf("the page does not show %q; it shows: %s", w, got)
		}
	}
}

// heading checks the page's h1.
func (b *tab) heading(want string) {
	b.t.Helper()
	if got := b.text("h1"); got != want {
		b.t.Fatalf("heading %q, want %q; page: %s", got, want, b.bodyText())
	}
}

// flash checks the flash message.
func (b *tab) flash(want string) {
	b.t.Helper()
	if got := b.text(".flash"); !strings.Contains(got, want) {
		b.t.Fatalf("flash %q, want %q", got, want)
	}
}

// screenshot saves the whole page as a PNG into the directory named by
// GATEHOUSE_TEST_SCREENSHOTS, for a person to look at the pages; without
// it (as in CI, where nobody looks) no screenshot is taken.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("GATEHOUSE_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	b.step("screenshot "+name, func(ctx context.Context) error {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		if len(png) < 8 || string(png[1:4]) != "PNG" {
			return fmt.Errorf("screenshot is not a PNG")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// TestBrowserAdminFlow drives the dashboard in Chromium the way an admin
// does, without typing a URL where a link or button exists, and checks
// the page after each step. Its two parts run side by side, each on a
// server of its own: the catalogue (features and a package, made in the
// dashboard) and the people (users, their packages and sessions, on a
// catalogue made beforehand).
func TestBrowserAdminFlow(t *testing.T) {
	t.Parallel()
	t.Run("catalogue", func(t *testing.T) {
		t.Parallel()
		s := start(t, nil)
		s.CreateUser("root", adminPW, user.RoleADMIN)
		b := newTab(t, s.URL, 1280, 900)

		// Sign in: the dashboard sends an anonymous visitor to the sign-in page.
		b.open("/admin/", http.StatusOK)
		b.heading("Sign in")
		b.screenshot("login")
		b.typeInto("#f-username", "root")
		b.typeInto("#f-password", "not-the-password")
		b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusUnauthorized)
		b.see("invalid username or password")
		if got := b.value("#f-username"); got != "root" {
			t.Fatalf("username not kept: %q", got)
		}
		b.typeInto("#f-password", adminPW)
		b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)
		b.heading("Overview")
		b.flash("Signed in as root.")

		// The catalogue first: a switch and a limit, defined in the dashboard.
		b.click(`.mainnav a[href="/admin/features"]`, http.StatusOK)
		b.heading("Features")
		b.see("There are no features yet.")
		for _, f := range []struct{ key, name, kind string }{
			{"moe_gatherer", "Moe gatherer", "Switch"},
			{"projects", "Projects", "Limit"},
		} {
			b.click(`a[href^="/admin/features/new"]`, http.StatusOK)
			b.heading("New feature")
			b.typeInto("#f-key", f.key)
			b.typeInto("#f-name", f.name)
			b.choose("#f-kind", f.kind)
			b.click(`form .form-actions button[type=submit]`, http.StatusOK)
			b.flash("Feature " + f.key + " created.")
			b.heading(f.name)
			b.click(`.mainnav a[href="/admin/features"]`, http.StatusOK)
		}
		b.heading("Features")
		b.see("moe_gatherer", "projects")
		b.screenshot("features")

		// A package with two contents, edited inline: add a row, fill two.
		b.click(`.mainnav a[href="/admin/packages"]`, http.StatusOK)
		b.heading("Packages")
		b.see("There are no packages yet.")
		b.click(`a[href^="/admin/packages/new"]`, http.StatusOK)
		b.heading("New package")
		b.typeInto("#f-name", "Gold")
		b.typeInto("#f-days", "30")
		b.typeInto("#f-detail", "The gold tier")
		b.typeInto("#f-graceDays", "3")
		b.click(`button[value="add-row"]`, http.StatusOK)
		if got := b.value("#f-name"); got != "Gold" {
			t.Fatalf("adding a row lost the name: %q", got)
		}
		b.typeInto("#f-contents-0-name", "Moe gatherer")
		b.choose("#f-contents-0-featureKey", "moe_gatherer")
		// With script, a switch's limit field is disabled.
		var disabled bool
		b.step("look at the switch's limit field", func(ctx context.Context) error {
			var err error
			disabled, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#f-contents-0-limit").disabled`))
			return err
		})
		if !disabled {
			t.Fatal("the limit of a switch is not disabled")
		}
		b.typeInto("#f-contents-1-name", "Ten projects")
		b.choose("#f-contents-1-featureKey", "projects")
		// A limit feature without its limit: the error shows beside the field
		// (the browser's own check is bypassed to reach the server's).
		b.step("skip the browser's check", func(ctx context.Context) error {
			return chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("form.form-wide").noValidate = true`))
		})
		b.click(`form .form-actions button[value="save"]`, http.StatusUnprocessableEntity)
		if got := b.text("#f-contents-1-limit-error"); got == "" {
			t.Fatalf("no error beside the missing limit; page: %s", b.bodyText())
		}
		if got := b.value("#f-contents-1-name"); got != "Ten projects" {
			t.Fatalf("the row's name was not kept: %q", got)
		}
		b.screenshot("package-form-limit-error")
		b.typeInto("#f-contents-1-limit", "10")
		b.click(`form .form-actions button[value="save"]`, http.StatusOK)
		b.flash("Package Gold created with 2 contents.")
		b.heading("Gold")
		b.see("The gold tier", "Moe gatherer", "Ten projects", "moe_gatherer", "projects", "10")
		b.screenshot("package-detail")
		if got := b.text("#package-grace-days"); !strings.HasPrefix(got, "3") {
			t.Fatalf("grace days %q", got)
		}

		// Delete the package with its contents.
		b.click(`.mainnav a[href="/admin/packages"]`, http.StatusOK)
		b.click(`td a.strong`, http.StatusOK)
		b.heading("Gold")
		b.click(`.page-header a[href*="/delete"]`, http.StatusOK)
		b.see("2 contents", "Moe gatherer", "Ten projects")
		b.click(`.danger-zone button.btn-danger`, http.StatusOK)
		b.flash("Package Gold deleted.")
		b.see("There are no packages yet.")
		if n, _ := s.App.DB.Ent.PackageContent.Query().Count(sys()); n != 0 {
			t.Fatalf("%d contents still stored", n)
		}

		// Sign out.
		b.click(`form[action="/admin/logout"] button`, http.StatusOK)
		b.heading("Sign in")
		b.flash("You have been signed out.")
		b.open("/admin/users", http.StatusOK)
		b.heading("Sign in")
	})

	t.Run("people", func(t *testing.T) {
		t.Parallel()
		s := start(t, nil)
		admin := s.CreateUser("root", adminPW, user.RoleADMIN)
		gold(t, s, admin.ID)
		b := newTab(t, s.URL, 1280, 900)
		b.open("/admin/login", http.StatusOK)
		b.typeInto("#f-username", "root")
		b.typeInto("#f-password", adminPW)
		b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)
		b.heading("Overview")

		// A validation error keeps what was typed and says what is wrong.
		b.click(`.mainnav a[href="/admin/users"]`, http.StatusOK)
		b.click(`a[href^="/admin/users/new"]`, http.StatusOK)
		b.typeInto("#f-username", "alice")
		b.typeInto("#f-password", "short!!")
		b.click(`form .form-actions button[type=submit]`, http.StatusUnprocessableEntity)
		if got := b.text("#f-password-error"); !strings.Contains(got, "must be at least 8 characters") {
			t.Fatalf("password error %q", got)
		}
		if got := b.value("#f-username"); got != "alice" {
			t.Fatalf("username not kept: %q", got)
		}
		b.screenshot("user-form-errors")
		// Then a user.
		b.typeInto("#f-password", "alice-password")
		b.choose("#f-role", "USER")
		b.click(`form .form-actions button[type=submit]`, http.StatusOK)
		b.flash("User alice created.")
		b.heading("alice")
		b.see("No packages assigned.", "No sessions.")

		// Assign the package from alice's page: she is chosen already, and the
		// package's days come with it.
		b.click(`a[href^="/admin/user-packages/new?userID="]`, http.StatusOK)
		b.heading("Assign a package")
		if got := b.value("#f-userID-q"); got != "alice" {
			t.Fatalf("user chosen: %q", got)
		}
		b.pick("packageID", "Gold")
		if got := b.value("#f-days"); got != "30" {
			t.Fatalf("days not prefilled from the package: %q", got)
		}
		b.click(`form .form-actions button[value="save"]`, http.StatusOK)
		b.flash("Package assigned until")
		b.heading("alice · Gold")
		if got := b.text("#user-package-state"); got != "ACTIVE" {
			t.Fatalf("state %q", got)
		}

		// Edit it: new period.
		b.click(`.page-header a[href*="/edit"]`, http.StatusOK)
		b.heading("Edit alice · Gold")
		b.setValue("#f-startsAt", "2025-01-01T08:00")
		b.setValue("#f-expiresAt", "2029-06-30T18:00")
		b.click(`form .form-actions button[value="save"]`, http.StatusOK)
		b.flash("Saved alice · Gold: 2025-01-01 08:00 UTC – 2029-06-30 18:00 UTC.")

		// Back on its page: extend it by 10 days.
		b.heading("alice · Gold")
		if got := b.text("#user-package-expires"); !strings.HasPrefix(got, "2029-06-30 18:00 UTC") {
			t.Fatalf("expires %q", got)
		}
		b.typeInto("#f-extendDays", "10")
		b.click(`form.extend-form button[type=submit]`, http.StatusOK)
		b.flash("Extended by 10 days")
		if got := b.text("#user-package-expires"); !strings.HasPrefix(got, "2029-07-10 18:00 UTC") {
			t.Fatalf("expires after extending %q", got)
		}
		b.screenshot("user-package-detail")

		// Support suspends it from its page, saying why: the badge and the
		// reason show, and alice's page agrees.
		b.typeInto("#f-reason", "Chargeback on invoice 2291")
		b.click(`form.suspend-form button[type=submit]`, http.StatusOK)
		b.flash("Suspended alice · Gold: it grants nothing until resumed.")
		b.heading("alice · Gold")
		if got := b.text("#user-package-state"); got != "SUSPENDED" {
			t.Fatalf("state after suspending %q", got)
		}
		if got := b.text("#user-package-suspend-reason"); got != "Chargeback on invoice 2291" {
			t.Fatalf("reason %q", got)
		}
		b.screenshot("user-package-suspended")
		b.click(`a[href^="/admin/users/"]`, http.StatusOK)
		b.heading("alice")
		b.see("SUSPENDED")
		b.step("go back", func(ctx context.Context) error { return chromedp.Do(ctx, chromedp.NavigateBack()) })
		b.heading("alice · Gold")
		// And resumes it.
		b.click(`form[action$="/resume"] button[type=submit]`, http.StatusOK)
		b.flash("Resumed alice · Gold.")
		if got := b.text("#user-package-state"); got != "ACTIVE" {
			t.Fatalf("state after resuming %q", got)
		}

		// Issue a session for alice; the token shows once.
		b.click(`.mainnav a[href="/admin/sessions"]`, http.StatusOK)
		b.click(`a[href^="/admin/sessions/new"]`, http.StatusOK)
		b.pick("userID", "alice")
		b.typeInto("#f-label", "build server")
		b.click(`form .form-actions button[type=submit]`, http.StatusOK)
		b.heading("Session issued")
		b.see("Copy the token now", "Token for alice")
		b.screenshot("session-issued")
		// With script, a Copy button appears beside the token.
		var copyShown bool
		b.step("look for the copy button", func(ctx context.Context) error {
			var err error
			copyShown, err = chromedp.Run(ctx, chromedp.Evaluate[bool](
				`(() => { const c = document.querySelector("button[data-copy=token]"); return !!c && !c.hidden && c.offsetWidth > 0; })()`))
			return err
		})
		if !copyShown {
			t.Fatal("the Copy button is not shown")
		}
		token := b.value("#token")
		if !strings.HasPrefix(token, "gate_") {
			t.Fatalf("token %q", token)
		}
		var me struct{ Me struct{ Username string } }
		s.MustDo(token, `{me{username}}`, nil).Decode(t, &me)
		if me.Me.Username != "alice" {
			t.Fatalf("token is %q's", me.Me.Username)
		}
		b.click(`a.btn-primary`, http.StatusOK)
		b.see("build server")
		if strings.Contains(b.html(), token) {
			t.Fatal("the token is shown a second time")
		}
		if got := b.text("#session-state"); got != "active" {
			t.Fatalf("session state %q", got)
		}

		b.open("/admin/users/"+itoa(mustFind(t, s, "alice")), http.StatusOK)
		b.heading("alice")
		if got := b.text(`#user-features tr[data-feature="projects"]`); !strings.Contains(got, "10") || !strings.Contains(got, "active") {
			t.Fatalf("alice's projects feature: %q", got)
		}
		b.screenshot("user-detail")

		// Screenshots of every list with data in it, and the overview.
		for _, l := range []struct{ name, path, h1 string }{
			{"overview", "/admin/", "Overview"},
			{"users", "/admin/users", "Users"},
			{"features", "/admin/features", "Features"},
			{"packages", "/admin/packages", "Packages"},
			{"package-contents", "/admin/package-contents", "Package contents"},
			{"user-packages", "/admin/user-packages", "User packages"},
			{"sessions", "/admin/sessions", "Sessions"},
			{"webhooks", "/admin/webhooks", "Webhook endpoints"},
			{"activity", "/admin/activity", "Activity"},
		} {
			b.open(l.path, http.StatusOK)
			b.heading(l.h1)
			b.screenshot(l.name)
		}
		b.open("/admin/packages/new", http.StatusOK)
		b.screenshot("package-form")

		// Revoke the session with its button.
		b.open("/admin/sessions", http.StatusOK)
		b.click(`a[href*="/revoke"]`, http.StatusOK)
		b.see("stops working at once")
		b.click(`form[action$="/revoke"] button`, http.StatusOK)
		b.flash("revoked.")
		b.see("Sessions", "revoked")
		if r := s.Do(token, `{me{username}}`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("revoked token works: %+v", r.Errors)
		}

		// Delete: the assignment, then the user (whose page lists what goes
		// with them).
		b.click(`.mainnav a[href="/admin/user-packages"]`, http.StatusOK)
		b.click(`td a.strong[href^="/admin/user-packages/"]`, http.StatusOK)
		b.heading("alice · Gold")
		b.click(`.page-header a[href*="/delete"]`, http.StatusOK)
		b.heading("Delete user package alice · Gold?")
		b.click(`.danger-zone button.btn-danger`, http.StatusOK)
		b.flash("User package alice · Gold deleted.")
		b.heading("User packages")
		b.see("There are no user packages yet.")
		if n, _ := s.App.DB.Ent.UserPackage.Query().Where(userpackage.HasUserWith(user.Username("alice"))).Count(sys()); n != 0 {
			t.Fatalf("assignment still stored")
		}

		b.click(`.mainnav a[href="/admin/users"]`, http.StatusOK)
		b.click(`td a.strong`, http.StatusOK) // the first user by name: alice
		b.heading("alice")
		b.click(`.page-header a[href*="/delete"]`, http.StatusOK)
		b.heading("Delete user alice?")
		b.see("0 user packages", "1 session")
		b.click(`.danger-zone button.btn-danger`, http.StatusOK)
		b.flash("User alice deleted.")
		b.heading("Users")
	})
}

// gold is the catalogue the people part of TestBrowserAdminFlow starts
// from, as its catalogue part makes it in the dashboard: a switch and a
// limit, and the package Gold granting both.
func gold(t *testing.T, s *apptest.Server, adminID int) {
	t.Helper()
	ctx := adminCtx(adminID)
	svc := s.App.Service
	for _, f := range []service.CreateFeatureInput{
		{Key: "moe_gatherer", Name: "Moe gatherer", Kind: feature.KindSWITCH},
		{Key: "projects", Name: "Projects", Kind: feature.KindLIMIT},
	} {
		if _, err := svc.CreateFeature(ctx, f); err != nil {
			t.Fatalf("create feature %s: %v", f.Key, err)
		}
	}
	detail := "The gold tier"
	if _, err := svc.CreatePackage(ctx, service.CreatePackageInput{
		Name: "Gold", Detail: &detail, Days: 30, GraceDays: intp(3),
		Contents: []*service.PackageContentInput{
			{Name: "Moe gatherer", FeatureKey: "moe_gatherer"},
			{Name: "Ten projects", FeatureKey: "projects", Limit: intp(10)},
		},
	}); err != nil {
		t.Fatalf("create package: %v", err)
	}
}

// TestBrowserPhoneWidth: at phone width the lists are still usable: no
// sideways scrolling, and every table row reads as a labelled card.
func TestBrowserPhoneWidth(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := newTab(t, s.URL, 390, 844)
	b.open("/admin/login", http.StatusOK)
	b.typeInto("#f-username", "root")
	b.typeInto("#f-password", adminPW)
	b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)
	for _, l := range []struct{ name, path string }{
		{"phone-users", "/admin/users"},
		{"phone-user-packages", "/admin/user-packages"},
		{"phone-package-form", "/admin/packages/" + itoa(w.pkg.ID) + "/edit"},
		{"phone-activity", "/admin/activity"},
		{"phone-user-history", "/admin/users/" + itoa(w.user.ID)},
	} {
		b.open(l.path, http.StatusOK)
		var wide bool
		b.step("measure", func(ctx context.Context) error {
			var err error
			wide, err = chromedp.Run(ctx, chromedp.Evaluate[bool](
				`document.documentElement.scrollWidth > window.innerWidth + 1`))
			return err
		})
		if wide {
			t.Fatalf("%s scrolls sideways at phone width", l.path)
		}
		b.screenshot(l.name)
	}
	// The row's cells carry their column's name.
	b.open("/admin/users", http.StatusOK)
	var label string
	b.step("read cell label", func(ctx context.Context) error {
		var err error
		label, err = chromedp.Run(ctx, chromedp.Evaluate[string](
			`getComputedStyle(document.querySelector('td[data-label="Username"]'), '::before').content`))
		return err
	})
	if label != `"Username"` {
		t.Fatalf("cell label %s", label)
	}
}
