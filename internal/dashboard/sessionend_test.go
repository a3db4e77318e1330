package dashboard_test

import (
	"net/http"
	"net/url"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// TestDashboardSessionsEndWithTheUsersSessions: every way of ending a
// user's sessions, or of taking away their admin role, signs out their
// dashboard sessions too; other admins' sessions go on.
func TestDashboardSessionsEndWithTheUsersSessions(t *testing.T) {
	t.Parallel()
	const newPW = "bob-new-password-1"
	for _, tc := range []struct {
		name  string
		flash string
		// change acts on bob (an admin signed in to the dashboard) as root
		// (an admin) or bob through the API, or as the console does.
		change func(t *testing.T, s *apptest.Server, root, bob int, rootTok, bobTok string)
	}{
		{"changePassword through the API", "password was changed", func(t *testing.T, s *apptest.Server, _, _ int, _, bobTok string) {
			s.MustDo(bobTok, `mutation($c:String!,$n:String!){changePassword(currentPassword:$c,newPassword:$n)}`,
				map[string]any{"c": adminPW, "n": newPW})
		}},
		{"updateUser(password:) by an admin through the API", "password was changed", func(t *testing.T, s *apptest.Server, _, bob int, rootTok, _ string) {
			s.MustDo(rootTok, `mutation($id:ID!,$p:String!){updateUser(id:$id,input:{password:$p}){id}}`,
				map[string]any{"id": itoa(bob), "p": newPW})
		}},
		{"user passwd at the console", "password was changed", func(t *testing.T, s *apptest.Server, _, bob int, _, _ string) {
			pw := newPW
			if _, err := s.App.Service.UpdateUser(viewer.System(t.Context()), bob, service.UpdateUserInput{Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}},
		{"logoutEverywhere", "sessions were ended", func(t *testing.T, s *apptest.Server, _, _ int, _, bobTok string) {
			s.MustDo(bobTok, `mutation{logoutEverywhere}`, nil)
		}},
		{"disabled through the API", "no longer an enabled admin", func(t *testing.T, s *apptest.Server, _, bob int, rootTok, _ string) {
			s.MustDo(rootTok, `mutation($id:ID!){updateUser(id:$id,input:{disabled:true}){id}}`, map[string]any{"id": itoa(bob)})
		}},
		{"deleted through the API", "no longer an enabled admin", func(t *testing.T, s *apptest.Server, _, bob int, rootTok, _ string) {
			s.MustDo(rootTok, `mutation($id:ID!){deleteUser(id:$id)}`, map[string]any{"id": itoa(bob)})
		}},
		{"demoted and promoted again before the next request", "sessions were ended", func(t *testing.T, s *apptest.Server, _, bob int, rootTok, _ string) {
			s.MustDo(rootTok, `mutation($id:ID!){updateUser(id:$id,input:{role:USER}){id}}`, map[string]any{"id": itoa(bob)})
			s.MustDo(rootTok, `mutation($id:ID!){updateUser(id:$id,input:{role:ADMIN}){id}}`, map[string]any{"id": itoa(bob)})
		}},
		{"demoted", "no longer an enabled admin", func(t *testing.T, s *apptest.Server, _, bob int, rootTok, _ string) {
			s.MustDo(rootTok, `mutation($id:ID!){updateUser(id:$id,input:{role:USER}){id}}`, map[string]any{"id": itoa(bob)})
		}},
		{"sessions revoked by an admin in the dashboard", "sessions were ended", func(t *testing.T, s *apptest.Server, root, bob int, _, _ string) {
			rb := signIn(t, s, "root", adminPW)
			rb.post("/admin/users/"+itoa(bob)+"/revoke-sessions", url.Values{}).wantRedirect("/admin/users/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, nil)
			w := seed(t, s)
			bob := s.CreateUser("bob", adminPW, user.RoleADMIN)
			rootTok := s.Login("root", adminPW)
			bobTok := s.Login("bob", adminPW)
			b1 := signIn(t, s, "bob", adminPW)
			b2 := signIn(t, s, "bob", adminPW)
			rootBrowser := signIn(t, s, "root", adminPW)
			b1.get("/admin/users").wantStatus(http.StatusOK)

			tc.change(t, s, w.admin.ID, bob.ID, rootTok, bobTok)

			for _, b := range []*browser{b1, b2} {
				p := b.get("/admin/users").wantRedirect("/admin/login")
				b.follow(p).wantFlash(tc.flash)
				b.get("/admin/").wantRedirect("/admin/login")
			}
			rootBrowser.get("/admin/users").wantStatus(http.StatusOK)
		})
	}
}

// TestOwnPasswordChangeInTheDashboard: an admin who changes their own
// password (or revokes their own sessions) in the dashboard stays signed in
// there; their other dashboard sessions and their API sessions end.
func TestOwnPasswordChangeInTheDashboard(t *testing.T) {
	t.Parallel()
	const newPW = "bob-new-password-1"
	for _, tc := range []struct {
		name string
		act  func(b *browser, bob int)
	}{
		{"new password", func(b *browser, bob int) {
			b.post("/admin/users/"+itoa(bob)+"/edit", url.Values{
				"username": {"bob"}, "password": {newPW}, "role": {"ADMIN"}, "disabled": {"false"},
			}).wantRedirect("/admin/users/")
		}},
		{"revoke own sessions", func(b *browser, bob int) {
			b.post("/admin/users/"+itoa(bob)+"/revoke-sessions", url.Values{}).wantRedirect("/admin/users/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, nil)
			seed(t, s)
			bob := s.CreateUser("bob", adminPW, user.RoleADMIN)
			bobTok := s.Login("bob", adminPW)
			here := signIn(t, s, "bob", adminPW)
			other := signIn(t, s, "bob", adminPW)

			tc.act(here, bob.ID)

			here.get("/admin/users").wantStatus(http.StatusOK)
			here.get("/admin/users/" + itoa(bob.ID)).wantStatus(http.StatusOK)
			other.get("/admin/users").wantRedirect("/admin/login")
			if r := s.Do(bobTok, `{ me { username } }`, nil); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("bob's API session after the change: %+v %s", r.Errors, r.Data)
			}
		})
	}
}

// TestOtherUsersPasswordChangeKeepsTheAdminSignedIn: an admin setting
// someone else's password stays signed in, with their own session epoch.
func TestOtherUsersPasswordChangeKeepsTheAdminSignedIn(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	b.post("/admin/users/"+itoa(w.user.ID)+"/edit", url.Values{
		"username": {"alice"}, "password": {"alice-new-password"}, "role": {"USER"}, "disabled": {"false"},
	}).wantRedirect("/admin/users/")
	b.get("/admin/users").wantStatus(http.StatusOK)
}
