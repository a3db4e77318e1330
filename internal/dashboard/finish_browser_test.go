package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/ent/user"
	"gatehouse/ent/usersession"
	"gatehouse/internal/apptest"
)

// browserSizes are the desktop and phone viewports the browser tests use.
var browserSizes = []struct {
	name          string
	width, height int
}{{"desktop", 1280, 800}, {"phone", phoneWidth, phoneHeight}}

// adminTab is a tab of size w×h signed in as root.
func adminTab(t *testing.T, s *apptest.Server, w, h int) *tab {
	t.Helper()
	b := newTab(t, s.URL, w, h)
	b.open("/admin/login", http.StatusOK)
	b.typeInto("#f-username", "root")
	b.typeInto("#f-password", adminPW)
	b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)
	b.heading("Overview")
	return b
}

// reload loads the page the tab shows again (a GET) and checks the status.
func (b *tab) reload(status int) {
	b.t.Helper()
	var href string
	b.step("read the address", func(ctx context.Context) error {
		var err error
		href, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		return err
	})
	b.open(strings.TrimPrefix(href, b.base), status)
}

// noSidewaysScroll fails when the page is wider than the viewport.
func (b *tab) noSidewaysScroll(where string) {
	b.t.Helper()
	if wide := b.evalNumber("measure width", `document.documentElement.scrollWidth - window.innerWidth`); wide > 0 {
		b.t.Fatalf("%s scrolls %v px sideways", where, wide)
	}
}

// TestBrowserSessionIssueOnce: an admin issues a session from a user's
// page; the token shows once, and a reload of that page shows "already
// shown", no token, and issues nothing. At desktop and phone sizes.
func TestBrowserSessionIssueOnce(t *testing.T) {
	t.Parallel()
	for _, size := range browserSizes {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, nil)
			w := seed(t, s)
			sessions := func() int {
				n, err := s.App.DB.Ent.UserSession.Query().Where(usersession.UserID(w.user.ID)).Count(sys())
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := sessions()
			b := adminTab(t, s, size.width, size.height)
			b.open("/admin/users/"+itoa(w.user.ID), http.StatusOK)
			b.heading("alice")
			b.click(`a[href^="/admin/sessions/new?userID=`+itoa(w.user.ID)+`"]`, http.StatusOK)
			b.heading("Issue a session")
			b.typeInto("#f-label", "release laptop")
			b.click(`form .form-actions button[type=submit]`, http.StatusOK)
			b.heading("Session issued")
			b.see("Copy the token now", "Token for alice")
			b.screenshot("issue-once-" + size.name + "-token")
			token := b.value("#token")
			if !strings.HasPrefix(token, "gate_") {
				t.Fatalf("token %q", token)
			}
			var me struct{ Me struct{ Username string } }
			s.MustDo(token, `{me{username}}`, nil).Decode(t, &me)
			if me.Me.Username != "alice" {
				t.Fatalf("the token is %q's", me.Me.Username)
			}
			if got := sessions(); got != before+1 {
				t.Fatalf("%d sessions after issuing one, %d before", got, before)
			}
			b.noSidewaysScroll("the issued page")

			b.reload(http.StatusOK)
			b.see("The token was already shown")
			if strings.Contains(b.html(), token) {
				t.Fatal("a reload shows the token again")
			}
			if n := b.evalNumber("count token fields", `document.querySelectorAll("#token").length`); n != 0 {
				t.Fatalf("a reload shows %v token fields", n)
			}
			b.screenshot("issue-once-" + size.name + "-reloaded")
			if got := sessions(); got != before+1 {
				t.Fatalf("the reload issued a session: %d, want %d", got, before+1)
			}
			b.noSidewaysScroll("the reloaded page")
		})
	}
}

// TestBrowserPhoneUsersList: at phone size the users list sorts with its
// "Sort by" and "Order" controls, and the bulk bar fits the screen and
// works. /admin/users and a bulk confirmation pass axe in light and dark,
// at both sizes.
func TestBrowserPhoneUsersList(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	// Made oldest first, after root and alice, so that newest first
	// starts at "newest".
	base := time.Now().Add(-time.Hour)
	setCreated(t, s, "users", w.admin.ID, base.Add(-2*time.Minute))
	setCreated(t, s, "users", w.user.ID, base.Add(-time.Minute))
	for i, name := range []string{"aaron", "bella", "newest"} {
		u := s.CreateUser(name, userPW, user.RoleUSER)
		setCreated(t, s, "users", u.ID, base.Add(time.Duration(i)*time.Minute))
	}
	// Enough more for a second page of 10 (older still, after "root").
	for i := range 8 {
		u := s.CreateUser(fmt.Sprintf("pz%02d", i), userPW, user.RoleUSER)
		setCreated(t, s, "users", u.ID, base.Add(-time.Duration(10+i)*time.Minute))
	}
	first := func(b *tab) string { return b.text(".table tbody tr td[data-label] a") }

	t.Run("sort on a phone", func(t *testing.T) {
		b := adminTab(t, s, phoneWidth, phoneHeight)
		b.open("/admin/users", http.StatusOK)
		b.heading("Users")
		if got := first(b); got != "aaron" {
			t.Fatalf("first row %q, want aaron (by username)", got)
		}
		b.screenshot("phone-users-list")
		b.choose("#f-sort", "Created")
		b.choose("#f-dir", "Descending")
		b.screenshot("phone-users-sort-chosen")
		b.click(`form.list-tools button[type=submit]`, http.StatusOK)
		if got := first(b); got != "newest" {
			t.Fatalf("first row %q after sorting by Created, descending; want newest", got)
		}
		if got := b.selected("#f-sort") + "/" + b.selected("#f-dir"); got != "Created/Descending" {
			t.Fatalf("the controls show %s after applying", got)
		}
		b.screenshot("phone-users-sorted")
		b.noSidewaysScroll("the sorted list")

		// The seek pager, on a page of 10.
		b.choose("#f-size", "10")
		b.click(`form.list-tools button[type=submit]`, http.StatusOK)
		b.click(`nav.pager a[rel=next]`, http.StatusOK)
		b.see("← Previous")
		if got := first(b); !strings.HasPrefix(got, "pz") {
			t.Fatalf("page 2 starts at %q", got)
		}
		b.noSidewaysScroll("page 2")
		b.screenshot("phone-users-page-2")
	})

	t.Run("bulk bar on a phone", func(t *testing.T) {
		b := adminTab(t, s, phoneWidth, phoneHeight)
		b.open("/admin/users?q=e", http.StatusOK)
		b.noSidewaysScroll("the users list")
		// Every part of the bar is within the screen's width.
		for _, sel := range []string{".bulk-bar legend", "#bulk-action", "#bulk-all", ".bulk-bar button[type=submit]", ".bulk-bar .muted"} {
			right := b.evalNumber("measure "+sel, fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().right`, sel))
			if right > phoneWidth {
				t.Fatalf("%s ends at %v px, past the %d px screen", sel, right, phoneWidth)
			}
		}
		id := itoa(mustFind(t, s, "bella"))
		b.step("tick bella", func(ctx context.Context) error {
			return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[name=id][value="`+id+`"]`)))
		})
		b.choose("#bulk-action", "Disable")
		b.screenshot("phone-users-bulk-bar")
		b.click(`.bulk-bar button[type=submit]`, http.StatusOK)
		b.heading("Disable 1 user?")
		b.see("Disable will apply to 1 user", "bella")
		b.noSidewaysScroll("the confirmation")
		b.screenshot("phone-users-bulk-review")
	})

	for _, size := range browserSizes {
		for _, scheme := range []string{"light", "dark"} {
			t.Run("axe "+size.name+" "+scheme, func(t *testing.T) {
				b := adminTab(t, s, size.width, size.height)
				b.colorScheme(scheme)
				b.open("/admin/users?size=10", http.StatusOK)
				b.axe("/admin/users")
				b.screenshot("users-list-" + size.name + "-" + scheme)
				b.step("tick two users", func(ctx context.Context) error {
					return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[name=id][value="`+itoa(mustFind(t, s, "aaron"))+`"]`)),
						chromedp.Click(chromedp.CSS(`input[name=id][value="`+itoa(mustFind(t, s, "bella"))+`"]`)))
				})
				b.choose("#bulk-action", "Delete")
				b.click(`.bulk-bar button[type=submit]`, http.StatusOK)
				b.heading("Delete 2 users?")
				b.axe("the bulk confirmation")
				b.screenshot("users-bulk-review-" + size.name + "-" + scheme)
			})
		}
	}
}

// TestBrowserUserPackagesBulkBar: the user packages list, whose bulk bar
// asks for days, fits the screen and passes axe at both sizes in light
// and dark.
func TestBrowserUserPackagesBulkBar(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	for _, size := range browserSizes {
		for _, scheme := range []string{"light", "dark"} {
			t.Run(size.name+" "+scheme, func(t *testing.T) {
				b := adminTab(t, s, size.width, size.height)
				b.colorScheme(scheme)
				b.open("/admin/user-packages", http.StatusOK)
				b.heading("User packages")
				b.see("Days (to extend by)")
				b.noSidewaysScroll("the user packages list")
				b.axe("/admin/user-packages")
				b.screenshot("user-packages-bulk-bar-" + size.name + "-" + scheme)
			})
		}
	}
}
