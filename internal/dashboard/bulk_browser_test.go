package dashboard_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"gatehouse/ent/user"
)

// TestBrowserBulkDisable: on the users list an admin ticks two users,
// chooses Disable, reviews what will happen and confirms; the list comes
// back with a summary. At desktop and phone sizes.
func TestBrowserBulkDisable(t *testing.T) {
	t.Parallel()
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, nil)
			seed(t, s)
			bob := s.CreateUser("bob", userPW, user.RoleUSER)
			carol := s.CreateUser("carol", userPW, user.RoleUSER)
			b := newTab(t, s.URL, size.width, size.height)
			b.open("/admin/login", http.StatusOK)
			b.typeInto("#f-username", "root")
			b.typeInto("#f-password", adminPW)
			b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)

			b.open("/admin/users", http.StatusOK)
			b.heading("Users")
			b.see("4 users")
			for _, id := range []int{bob.ID, carol.ID} {
				b.step("tick user "+itoa(id), func(ctx context.Context) error {
					return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[name=id][value="`+itoa(id)+`"]`)))
				})
			}
			b.choose("#bulk-action", "Disable")
			b.screenshot("bulk-" + size.name + "-selected")
			b.click(`.bulk-bar button[type=submit]`, http.StatusOK)
			b.heading("Disable 2 users?")
			b.see("Disable will apply to 2 users", "bob", "carol", "cannot sign in")
			b.screenshot("bulk-" + size.name + "-review")
			for _, id := range []int{bob.ID, carol.ID} {
				if u, err := s.App.DB.Ent.User.Get(sys(), id); err != nil || u.Disabled {
					t.Fatalf("the review changed user %d: %+v, %v", id, u, err)
				}
			}
			b.click(`form[action="/admin/users/bulk/apply"] button[type=submit]`, http.StatusOK)
			b.heading("Users")
			b.flash("Disabled 2 users.")
			b.screenshot("bulk-" + size.name + "-done")
			for _, id := range []int{bob.ID, carol.ID} {
				if u, err := s.App.DB.Ent.User.Get(sys(), id); err != nil || !u.Disabled {
					t.Fatalf("user %d not disabled: %+v, %v", id, u, err)
				}
			}
			if u, _ := s.App.DB.Ent.User.Query().Where(user.Username("alice")).Only(sys()); u == nil || u.Disabled {
				t.Fatal("alice, not ticked, was disabled")
			}
		})
	}
}
