package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gatehouse/ent/user"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
)

// Phone size of the comfort test, and the most the overview may measure
// there: about two screens.
const (
	phoneWidth        = 390
	phoneHeight       = 844
	maxOverviewHeight = 1700
)

// evalNumber evaluates a JavaScript expression of a number.
func (b *tab) evalNumber(what, expr string) float64 {
	b.t.Helper()
	var v float64
	b.step(what, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
		return err
	})
	return v
}

// colorScheme makes the tab's pages see prefers-color-scheme: scheme.
func (b *tab) colorScheme(scheme string) {
	b.t.Helper()
	b.step("prefers-color-scheme: "+scheme, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err
		}))
	})
}

// axe runs axe-core (testdata/axe) on the page and fails on any WCAG 2.1
// A or AA violation.
func (b *tab) axe(name string) {
	b.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		b.t.Fatal(err)
	}
	var out string
	b.step("axe "+name, func(ctx context.Context) error {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
			return fmt.Errorf("load axe: %w", err)
		}
		out, err = chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		}).then(r => JSON.stringify(r.violations.map(v => ({
			id: v.id, impact: v.impact,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary),
		}))))`, chromedp.EvalAwaitPromise))
		return err
	})
	var violations []struct {
		ID     string
		Impact string
		Nodes  []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		b.t.Fatalf("axe's answer on %s: %v: %s", name, err, out)
	}
	for _, v := range violations {
		b.t.Errorf("axe on %s: %s (%s): %s", name, v.ID, v.Impact, strings.Join(v.Nodes, "; "))
	}
}

// TestBrowserPhoneComfort: at phone size (390×844) with a full overview
// (20 assignments expiring within the week, 10 sessions) the overview is
// at most about two screens tall, every entry of the navigation is on the
// screen, times show in the admin's zone with its name, and dark mode
// (prefers-color-scheme) renders with no axe violation.
func TestBrowserPhoneComfort(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	days := 3
	for i := range 20 {
		u := s.CreateUser(fmt.Sprintf("member-%02d", i), userPW, user.RoleUSER)
		if _, err := s.App.Service.AssignPackage(ctx, service.AssignPackageInput{UserID: u.ID, PackageID: w.pkg.ID, Days: &days}); err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			label := fmt.Sprintf("phone app build %d", i)
			if _, err := s.App.Service.IssueSession(ctx, service.IssueSessionInput{UserID: u.ID, Label: &label}, auth.ClientInfo{IP: "198.51.100.7"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.App.DB.Ent.User.UpdateOneID(w.admin.ID).SetTimeZone("Europe/Berlin").ExecX(sys())

	b := newTab(t, s.URL, phoneWidth, phoneHeight)
	b.open("/admin/login", http.StatusOK)
	b.typeInto("#f-username", "root")
	b.typeInto("#f-password", adminPW)
	b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)
	b.heading("Overview")

	t.Run("the overview fits two screens", func(t *testing.T) {
		b.t = t
		b.open("/admin/", http.StatusOK)
		if n := b.evalNumber("count rows", `document.querySelectorAll("#expiring tbody tr").length`); n != 20 {
			t.Fatalf("the overview lists %v expiring assignments, want all 20", n)
		}
		b.screenshot("phone-overview")
		h := b.evalNumber("measure", `document.documentElement.scrollHeight`)
		t.Logf("overview at %d×%d: %v px tall", phoneWidth, phoneHeight, h)
		if h > maxOverviewHeight {
			t.Fatalf("the overview is %v px tall at phone width, want at most %d", h, maxOverviewHeight)
		}
		if wide := b.evalNumber("measure width", `document.documentElement.scrollWidth - window.innerWidth`); wide > 1 {
			t.Fatalf("the overview scrolls %v px sideways", wide)
		}
		// The counts and the soonest expiries show without opening anything.
		for _, sel := range []string{".tiles", "#expiring tbody tr"} {
			if v := b.evalNumber("visible "+sel, fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().height`, sel)); v <= 0 {
				t.Fatalf("%s is not shown", sel)
			}
		}
		b.see("15 more expiring", "5 more recent sessions")
		// Opening the rest works without a script.
		b.step("open the rest", func(ctx context.Context) error {
			return chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#expiring-more > summary")))
		})
		if open := b.read("#expiring-more", "e.open"); open != "true" {
			t.Fatal("the rest of the expiring assignments did not open")
		}
	})

	t.Run("every navigation entry is on the screen", func(t *testing.T) {
		b.t = t
		b.open("/admin/activity", http.StatusOK)
		off := b.read(".mainnav", `Array.from(e.querySelectorAll("a")).filter(a => {
			const r = a.getBoundingClientRect();
			return r.width === 0 || r.left < 0 || r.right > window.innerWidth || r.top < 0;
		}).map(a => a.textContent).join(", ")`)
		if off != "" {
			t.Fatalf("navigation entries off the screen: %s", off)
		}
		if n := b.evalNumber("count nav", `document.querySelectorAll(".mainnav a").length`); n < 9 {
			t.Fatalf("the navigation has %v entries", n)
		}
		if clipped := b.evalNumber("nav overflow", `(() => { const u = document.querySelector(".mainnav ul"); return u.scrollWidth - u.clientWidth; })()`); clipped > 1 {
			t.Fatalf("the navigation hides %v px", clipped)
		}
		if cur := b.text(`.mainnav a[aria-current="page"]`); cur != "Activity" {
			t.Fatalf("current entry %q", cur)
		}
		b.screenshot("phone-nav")
	})

	t.Run("times show in the admin's zone", func(t *testing.T) {
		b.t = t
		b.open("/admin/", http.StatusOK)
		got := b.text("#expiring tbody tr time")
		if !strings.HasSuffix(got, " CET") && !strings.HasSuffix(got, " CEST") {
			t.Fatalf("an expiry shows as %q, want Berlin time", got)
		}
		b.click("a.who-name", http.StatusOK)
		b.heading("Your account")
		b.see("Time zone Europe/Berlin")
	})

	t.Run("dark mode", func(t *testing.T) {
		b.t = t
		b.colorScheme("light")
		b.open("/admin/", http.StatusOK)
		light := b.read("body", "getComputedStyle(e).backgroundColor")
		b.axe("the overview (light)")
		b.colorScheme("dark")
		b.open("/admin/", http.StatusOK)
		dark := b.read("body", "getComputedStyle(e).backgroundColor")
		if dark == light || dark != "rgb(14, 18, 25)" {
			t.Fatalf("body background %s in dark mode (%s in light)", dark, light)
		}
		if c := b.read(".card", "getComputedStyle(e).backgroundColor"); c != "rgb(23, 28, 38)" {
			t.Fatalf("card background %s in dark mode", c)
		}
		b.step("open the rest", func(ctx context.Context) error {
			return chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#recent-more > summary")))
		})
		b.axe("the overview (dark)")
		b.screenshot("phone-overview-dark")
		for _, l := range []struct{ name, path string }{
			{"phone-account-dark", "/admin/account"},
			{"phone-user-package-form-dark", "/admin/user-packages/" + itoa(w.assignment.ID) + "/edit"},
			{"phone-users-dark", "/admin/users"},
		} {
			b.open(l.path, http.StatusOK)
			b.axe(l.path + " (dark)")
			b.screenshot(l.name)
		}
	})
}
