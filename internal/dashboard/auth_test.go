package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/dashboard"
	"gatehouse/internal/service"
)

func sessionCookie(t *testing.T, p *page) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if strings.Contains(c.Name, dashboard.CookieName) {
			return c
		}
	}
	t.Fatalf("no session cookie set; headers %v", p.Header)
	return nil
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := newBrowser(t, s.URL)

	lp := b.get("/admin/login").wantStatus(http.StatusOK).wantText("Sign in")
	lp.wantValue("username", "")
	if len(lp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("the sign-in page set a cookie before anyone signed in: %v", lp.Header.Values("Set-Cookie"))
	}

	// Wrong password: generic message, username kept, password not.
	p := b.post("/admin/login", url.Values{"username": {"root"}, "password": {"wrong-password"}}).
		wantStatus(http.StatusUnauthorized).wantText("invalid username or password")
	p.wantValue("username", "root").wantValue("password", "")
	if strings.Contains(p.Body, "wrong-password") {
		t.Fatal("the page shows the password typed")
	}
	// Unknown user and disabled admin: the same answer.
	b.post("/admin/login", url.Values{"username": {"nobody"}, "password": {adminPW}}).
		wantStatus(http.StatusUnauthorized).wantText("invalid username or password")
	s.CreateUser("dora", adminPW, user.RoleADMIN)
	dis := true
	if _, err := s.App.Service.UpdateUser(adminCtx(w.admin.ID), mustFind(t, s, "dora"), service.UpdateUserInput{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	b.post("/admin/login", url.Values{"username": {"dora"}, "password": {adminPW}}).
		wantStatus(http.StatusUnauthorized).wantText("invalid username or password")

	// Right password: a new session, the overview, the last sign-in noted.
	ok := b.post("/admin/login", url.Values{"username": {"ROOT"}, "password": {adminPW}}).wantRedirect("/admin/")
	first := sessionCookie(t, ok).Value
	b.follow(ok).wantStatus(http.StatusOK).wantFlash("Signed in as root").wantText("root", "Sign out")
	u, err := s.App.DB.Ent.User.Get(sys(), w.admin.ID)
	if err != nil || u.LastLoginAt == nil {
		t.Fatalf("last login not recorded: %+v %v", u, err)
	}

	// Signing out renews the token and forgets the admin.
	out := b.post("/admin/logout", nil).wantRedirect("/admin/login")
	if c := sessionCookie(t, out); c.Value == first || c.Value == "" {
		t.Fatalf("logout kept the session token")
	}
	b.follow(out).wantStatus(http.StatusOK).wantFlash("You have been signed out")
	b.get("/admin/users").wantRedirect("/admin/login")

	// The old cookie no longer opens anything.
	old := newBrowser(t, s.URL)
	old.header.Set("Cookie", dashboard.CookieName+"="+first)
	old.get("/admin/users").wantRedirect("/admin/login")

	// Logging out without a session is harmless.
	newBrowser(t, s.URL).post("/admin/logout", nil).wantRedirect("/admin/login")
}

// mustFind returns the id of the user called name.
func mustFind(t *testing.T, s *apptest.Server, name string) int {
	t.Helper()
	u, err := s.App.DB.Ent.User.Query().Where(user.Username(name)).Only(sys())
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return u.ID
}

// TestLoginRenewsToken: a token planted before sign-in is not the one
// after it (no session fixation).
func TestLoginRenewsToken(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := newBrowser(t, s.URL)
	// Get an anonymous session (the failed sign-in stores nothing, so plant
	// one through the logout flash).
	planted := sessionCookie(t, b.post("/admin/logout", nil)).Value
	p := b.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}}).wantRedirect("/admin/")
	if got := sessionCookie(t, p).Value; got == planted {
		t.Fatal("sign-in kept the token from before")
	}
}

func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.Throttle.MaxFailures = 3 })
	seed(t, s)
	b := newBrowser(t, s.URL)
	for i := 0; i < 3; i++ {
		b.post("/admin/login", url.Values{"username": {"root"}, "password": {"not-it"}}).
			wantStatus(http.StatusUnauthorized).wantText("invalid username or password")
	}
	// Locked: even the right password is refused with a rate-limit message.
	b.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}}).
		wantStatus(http.StatusTooManyRequests).
		wantText("too many failed sign-ins").
		wantValue("username", "root")
	// The API's login counts the same failures.
	r := s.Do("", `mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`,
		map[string]any{"u": "root", "p": adminPW})
	if r.Code() != "RATE_LIMITED" {
		t.Fatalf("API login after dashboard failures: %+v", r.Errors)
	}
}

func TestCookieFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		secure     bool
		cookieName string
	}{
		{"plain", false, dashboard.CookieName},
		{"secure", true, "__Host-" + dashboard.CookieName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, func(c *config.Config) {
				c.Dashboard.CookieSecure = tc.secure
				c.Dashboard.SessionIdleTimeout.Duration = 10 * time.Minute
				c.Dashboard.SessionAbsoluteTimeout.Duration = time.Hour
			})
			seed(t, s)
			b := newBrowser(t, s.URL)
			p := b.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}}).wantRedirect("/admin/")
			c := sessionCookie(t, p)
			raw := p.Header.Get("Set-Cookie")
			if c.Name != tc.cookieName {
				t.Fatalf("cookie name %q, want %q", c.Name, tc.cookieName)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie flags wrong: %s", raw)
			}
			if c.Secure != tc.secure {
				t.Fatalf("Secure = %v, want %v: %s", c.Secure, tc.secure, raw)
			}
			// The idle timeout from the config bounds the cookie's life.
			if c.MaxAge < 590 || c.MaxAge > 601 {
				t.Fatalf("Max-Age %d, want the 10 minute idle timeout: %s", c.MaxAge, raw)
			}
		})
	}
}

// TestCrossSitePostsRefused: a form posted from another site changes
// nothing, whatever the route.
func TestCrossSitePostsRefused(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.example"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	} {
		for path, form := range postRoutes(w) {
			t.Run(strings.Join(hdr, " ")+" "+path, func(t *testing.T) {
				b.t = t
				b.post(path, form, hdr...).wantStatus(http.StatusForbidden).wantText("sent from another site")
			})
		}
		t.Run(strings.Join(hdr, " ")+" logout", func(t *testing.T) {
			b.t = t
			b.post("/admin/logout", nil, hdr...).wantStatus(http.StatusForbidden)
		})
		t.Run(strings.Join(hdr, " ")+" login", func(t *testing.T) {
			nb := newBrowser(t, s.URL)
			nb.post("/admin/login", url.Values{"username": {"root"}, "password": {adminPW}}, hdr...).wantStatus(http.StatusForbidden)
		})
	}
	// Nothing changed, and the admin is still signed in.
	b.t = t
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	if n, _ := c.User.Query().Count(ctx); n != 2 {
		t.Fatalf("users = %d, want 2", n)
	}
	if p, _ := c.Pkg.Get(ctx, w.pkg.ID); p == nil || p.Name != "Gold" {
		t.Fatalf("package changed: %+v", p)
	}
	if ss, _ := c.UserSession.Get(ctx, w.session.ID); ss == nil || ss.RevokedAt != nil {
		t.Fatalf("session changed: %+v", ss)
	}
	if up, _ := c.UserPackage.Get(ctx, w.assignment.ID); up == nil || up.SuspendedAt != nil {
		t.Fatalf("assignment changed: %+v", up)
	}
	b.get("/admin/users").wantStatus(http.StatusOK)
	// Nothing changes state on GET either.
	b.get("/admin/users/" + itoa(w.user.ID) + "/delete").wantStatus(http.StatusOK)
	b.get("/admin/sessions/" + itoa(w.session.ID) + "/revoke").wantStatus(http.StatusOK)
	b.get("/admin/users/" + itoa(w.user.ID) + "/revoke-sessions").wantStatus(http.StatusOK)
	b.get("/admin/user-packages/" + itoa(w.assignment.ID) + "/suspend").wantStatus(http.StatusNotFound)
	if _, err := c.User.Get(ctx, w.user.ID); err != nil {
		t.Fatalf("GET deleted the user: %v", err)
	}
	if ss, _ := c.UserSession.Get(ctx, w.session.ID); ss == nil || ss.RevokedAt != nil {
		t.Fatalf("GET revoked the session: %+v", ss)
	}
}

// TestDemotedOrDisabledAdminSignedOut: the next request of an admin who
// lost the role, was disabled or deleted goes to the sign-in page.
func TestDemotedOrDisabledAdminSignedOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(s *apptest.Server, by, id int) error
	}{
		{"demoted", func(s *apptest.Server, by, id int) error {
			r := user.RoleUSER
			_, err := s.App.Service.UpdateUser(adminCtx(by), id, service.UpdateUserInput{Role: &r})
			return err
		}},
		{"disabled", func(s *apptest.Server, by, id int) error {
			d := true
			_, err := s.App.Service.UpdateUser(adminCtx(by), id, service.UpdateUserInput{Disabled: &d})
			return err
		}},
		{"deleted", func(s *apptest.Server, by, id int) error {
			_, err := s.App.Service.DeleteUser(adminCtx(by), id)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, nil)
			w := seed(t, s)
			other := s.CreateUser("bob", adminPW, user.RoleADMIN)
			b := signIn(t, s, "bob", adminPW)
			b.get("/admin/users").wantStatus(http.StatusOK)
			if err := tc.change(s, w.admin.ID, other.ID); err != nil {
				t.Fatal(err)
			}
			p := b.get("/admin/users").wantRedirect("/admin/login")
			b.follow(p).wantFlash("no longer an enabled admin")
			// Even if restored, the old session stays signed out.
			b.get("/admin/").wantRedirect("/admin/login")
		})
	}
}

// TestSessionSurvivesRestart: the cookie session lives in the database, so
// a new server process over the same database knows it.
func TestSessionSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	b.get("/admin/users").wantStatus(http.StatusOK)

	// A second Gatehouse over the same database: what a restart (or another
	// replica) sees.
	a2, err := app.Assemble(context.Background(), s.App.Config, s.App.DB,
		slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Dashboard: apptest.Dashboard})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a2.Handler)
	defer ts.Close()
	b2 := newBrowser(t, ts.URL)
	u, _ := url.Parse(s.URL)
	u2, _ := url.Parse(ts.URL)
	b2.c.Jar.SetCookies(u2, b.c.Jar.Cookies(u))
	b2.get("/admin/users").wantStatus(http.StatusOK).wantText("alice", "root")
	// And signing out there signs out here.
	b2.post("/admin/logout", nil).wantRedirect("/admin/login")
	b.get("/admin/users").wantRedirect("/admin/login")
}
