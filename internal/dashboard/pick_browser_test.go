package dashboard_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
)

// TestBrowserPicker: in Chromium, at desktop and phone sizes, an admin
// types part of a name into the user picker, picks the match with the
// keyboard (arrow keys, Enter), does the same for the package, and
// assigns it: to a user far beyond the first thousand.
func TestBrowserPicker(t *testing.T) {
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, nil)
			seed(t, s)
			addUsers(t, s, "member", 1500)
			b := newTab(t, s.URL, size.width, size.height)
			b.open("/admin/login", http.StatusOK)
			b.typeInto("#f-username", "root")
			b.typeInto("#f-password", adminPW)
			b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)

			b.open("/admin/user-packages/new", http.StatusOK)
			b.heading("Assign a package")
			if b.read("button.picker-find", "e.hidden") != "true" {
				t.Fatal("with script, the Find button should be hidden")
			}
			// Escape closes the list of matches.
			b.typeInto("#f-userID-q", "member000")
			b.waitVisible(`#f-userID-q-listbox li[role=option]`)
			if got := b.read("#f-userID-q", `e.getAttribute("aria-expanded")`); got != "true" {
				t.Fatalf("aria-expanded %q with the list open", got)
			}
			b.keys("#f-userID-q", kb.Escape)
			if b.read("#f-userID-q-listbox", "e.hidden") != "true" {
				t.Fatal("Escape did not close the list")
			}
			// One search, two arrow keys (down to the match, then past the
			// last one stays there), Enter.
			b.typeInto("#f-userID-q", "MEMBER0001499")
			b.waitVisible(`#f-userID-q-listbox li[role=option]:only-child`)
			if got := b.text(`#f-userID-q-listbox + [role=status]`); got != "1 match. Use the arrow keys to choose." {
				t.Fatalf("live region says %q", got)
			}
			b.screenshot("picker-" + size.name + "-matches")
			b.keys("#f-userID-q", kb.ArrowDown+kb.ArrowDown)
			if got := b.read("#f-userID-q", `e.getAttribute("aria-activedescendant")`); got != "f-userID-q-opt-0" {
				t.Fatalf("active option %q", got)
			}
			b.keys("#f-userID-q", kb.Enter)
			want := itoa(mustUserID(t, s, "member0001499"))
			if got := b.read(`input[name="userID"]`, "e.value"); got != want {
				t.Fatalf("userID %q, want %q", got, want)
			}
			if got := b.value("#f-userID-q"); got != "member0001499" {
				t.Fatalf("the box shows %q", got)
			}
			// The package: its days come with it.
			b.typeInto("#f-packageID-q", "gol")
			b.waitVisible(`#f-packageID-q-listbox li[role=option]:only-child`)
			b.keys("#f-packageID-q", kb.ArrowDown+kb.Enter)
			if got := b.value("#f-days"); got != "30" {
				t.Fatalf("days %q", got)
			}
			b.screenshot("picker-" + size.name + "-chosen")
			b.click(`form .form-actions button[value="save"]`, http.StatusOK)
			b.flash("Package assigned until")
			b.heading("member0001499 · Gold")
			n, err := s.App.DB.Ent.UserPackage.Query().Where(userpackage.HasUserWith(user.Username("member0001499"))).Count(sys())
			if err != nil || n != 1 {
				t.Fatalf("assignments of member0001499: %d, %v", n, err)
			}
			// The list's user filter is a picker too.
			b.open("/admin/user-packages", http.StatusOK)
			b.see("2 user packages")
			b.pick("userID", "member0001499")
			b.click(`form.list-tools .list-tools-actions button[type=submit]`, http.StatusOK)
			b.see("1 user package", "Chosen: member0001499")
			b.screenshot("picker-" + size.name + "-list-filter")
		})
	}
}

// waitVisible waits until what sel finds is shown (within the step's
// deadline).
func (b *tab) waitVisible(sel string) {
	b.t.Helper()
	b.step("wait for "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
	})
}

// keys presses keys (kb constants) in the field sel finds.
func (b *tab) keys(sel, keys string) {
	b.t.Helper()
	b.step("press keys in "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), keys))
	})
}

// pick types text into the picker of the field name and, once its one
// match shows, chooses it with the keyboard.
func (b *tab) pick(name, text string) {
	b.t.Helper()
	box := "#f-" + name + "-q"
	b.typeInto(box, text)
	b.waitVisible(box + `-listbox li[role=option]:only-child`)
	b.keys(box, kb.ArrowDown+kb.Enter)
	if b.read(`input[name="`+name+`"]`, "e.value") == "" {
		b.t.Fatalf("picking %q in %s chose nothing", text, name)
	}
}
