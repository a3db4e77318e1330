package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/ent/usersession"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// clock is a settable time for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	client *ent.Client
	auth   *auth.Service
	clock  *clock
}

func setup(t *testing.T) *fixture { t.Helper(); return setupWith(t, nil) }

// setupWith is setup with the configuration adjusted.
func setupWith(t *testing.T, adjust func(*auth.Config)) *fixture {
	t.Helper()
	d := testdb.Open(t)
	cfg := auth.DefaultConfig()
	cfg.BcryptCost = auth.MinBcryptCost
	cfg.TestBcryptCost = bcrypt.MinCost // no test here needs slow hashes
	cfg.Throttle.Step = 0
	if adjust != nil {
		adjust(&cfg)
	}
	a, err := auth.New(d.Ent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	a.SetClock(c.now)
	return &fixture{client: d.Ent, auth: a, clock: c}
}

func (f *fixture) user(t *testing.T, name, pw string, disabled bool) *ent.User {
	t.Helper()
	hash, err := f.auth.Hash("password", pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.client.User.Create().SetUsername(name).SetPasswordHash(hash).SetDisabled(disabled).
		Save(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func code(err error) apperr.Code {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

func TestPasswordRules(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"seven characters", "abcdefg", false},
		{"eight characters", "abcdefgh", true},
		{"eight multibyte characters", "ççççççç√", true},
		{"72 bytes", strings.Repeat("x", 72), true},
		{"73 bytes is refused, not truncated", strings.Repeat("x", 73), false},
		{"40 two-byte characters (80 bytes)", strings.Repeat("ç", 40), false},
		{"invalid UTF-8", "abcdefg\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := auth.HashPassword("password", tt.pw, auth.MinBcryptCost)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if hash == tt.pw || !strings.HasPrefix(hash, "$2") {
					t.Fatalf("hash %q is not a bcrypt hash", hash)
				}
				if bcrypt.CompareHashAndPassword([]byte(hash), []byte(tt.pw)) != nil {
					t.Fatal("hash does not match the password")
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != "password" {
				t.Fatalf("want BAD_USER_INPUT on password, got %v", err)
			}
		})
	}
}

func TestHashUsesAtLeastCostTen(t *testing.T) {
	hash, err := auth.HashPassword("password", "long enough", 4)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(hash)); c < auth.MinBcryptCost {
		t.Fatalf("cost %d, want at least %d", c, auth.MinBcryptCost)
	}
	if _, err := auth.New(nil, auth.Config{BcryptCost: 9}); err == nil {
		t.Fatal("a service with bcrypt cost 9 was accepted")
	}
}

// TestServiceHashesWithItsCost: new passwords are hashed with the
// configured cost, and with the test cost only when one is set.
func TestServiceHashesWithItsCost(t *testing.T) {
	for _, tt := range []struct {
		name       string
		cost, test int
		want       int
	}{
		{"configured cost", auth.MinBcryptCost + 1, 0, auth.MinBcryptCost + 1},
		{"test cost", auth.MinBcryptCost, bcrypt.MinCost, bcrypt.MinCost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setupWith(t, func(c *auth.Config) { c.BcryptCost, c.TestBcryptCost = tt.cost, tt.test })
			hash, err := f.auth.Hash("password", "long enough")
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := bcrypt.Cost([]byte(hash)); c != tt.want {
				t.Fatalf("cost %d, want %d", c, tt.want)
			}
			u := f.user(t, "alice", "alice-password", false)
			if _, err := f.auth.Login(context.Background(), "alice", "alice-password", auth.ClientInfo{}); err != nil {
				t.Fatalf("sign-in of %s: %v", u.Username, err)
			}
		})
	}
	// A test cost does not lift the minimum of the configured one.
	if _, err := auth.New(nil, auth.Config{BcryptCost: 9, TestBcryptCost: bcrypt.MinCost}); err == nil {
		t.Fatal("a service with bcrypt cost 9 was accepted")
	}
}

func TestLogin(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "Alice", "alice-password", false)
	f.user(t, "dora", "dora-password", true)

	p, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !strings.HasPrefix(p.Token, "gate_") || len(p.Token) < 40 {
		t.Fatalf("token %q does not look like a session token", p.Token)
	}
	stored, err := f.client.UserSession.Query().Only(viewer.System(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if stored.TokenHash == p.Token || stored.TokenHash != auth.HashToken(p.Token) {
		t.Fatalf("stored %q; want the SHA-256 of the token, never the token", stored.TokenHash)
	}
	if stored.IP != "192.0.2.1" || stored.UserAgent != "test" {
		t.Fatalf("client info not kept: %q %q", stored.IP, stored.UserAgent)
	}
	if !p.ExpiresAt.Equal(f.clock.now().Add(24 * time.Hour)) {
		t.Fatalf("expires %v, want 24h from now", p.ExpiresAt)
	}
	u, _ := f.client.User.Query().Where(user.Username("Alice")).Only(viewer.System(ctx))
	if u.LastLoginAt == nil {
		t.Fatal("last login time not recorded")
	}

	failures := []struct{ name, username, password string }{
		{"wrong password", "alice", "wrong-password"},
		{"unknown user", "nobody", "alice-password"},
		{"disabled user", "dora", "dora-password"},
		{"empty", "", ""},
	}
	var first string
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.auth.Login(ctx, tt.username, tt.password, auth.ClientInfo{})
			if code(err) != apperr.Unauthenticated {
				t.Fatalf("want UNAUTHENTICATED, got %v", err)
			}
			if first == "" {
				first = err.Error()
			} else if err.Error() != first {
				t.Fatalf("message %q differs from %q: it tells failures apart", err.Error(), first)
			}
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	login := func() string {
		p, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Token
	}
	authOK := func(tok string) *viewer.Viewer {
		t.Helper()
		v, err := f.auth.Authenticate(ctx, tok)
		if err != nil {
			t.Fatalf("token refused: %v", err)
		}
		return v
	}
	authFails := func(tok string) {
		t.Helper()
		if _, err := f.auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("want the invalid-token error, got %v", err)
		}
	}

	t.Run("malformed and unknown tokens", func(t *testing.T) {
		authFails("")
		authFails("not-a-token")
		authFails("gate_" + strings.Repeat("A", 43))
	})

	t.Run("idle timeout", func(t *testing.T) {
		tok := login()
		f.clock.add(24*time.Hour + time.Second)
		authFails(tok)
	})

	t.Run("use slides the expiry, written at most once a minute", func(t *testing.T) {
		tok := login()
		v := authOK(tok)
		sess := func() *ent.UserSession {
			s, err := f.client.UserSession.Get(viewer.System(ctx), v.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		before := sess()
		f.clock.add(30 * time.Second)
		authOK(tok)
		if got := sess(); !got.LastSeenAt.Equal(before.LastSeenAt) || !got.ExpiresAt.Equal(before.ExpiresAt) {
			t.Fatal("a use within the touch interval wrote the session")
		}
		for range 3 { // three days of use, each within the idle timeout
			f.clock.add(20 * time.Hour)
			authOK(tok)
		}
		if got := sess(); !got.ExpiresAt.Equal(f.clock.now().Add(24 * time.Hour)) {
			t.Fatalf("expiry %v did not slide to 24h after the last use", got.ExpiresAt)
		}
	})

	t.Run("absolute cap", func(t *testing.T) {
		tok := login()
		for elapsed := time.Duration(0); elapsed < 30*24*time.Hour-20*time.Hour; elapsed += 20 * time.Hour {
			f.clock.add(20 * time.Hour)
			authOK(tok)
		}
		f.clock.add(20 * time.Hour) // past 30 days although used within the idle timeout
		authFails(tok)
	})

	t.Run("refresh extends, never past the cap", func(t *testing.T) {
		tok := login()
		v := authOK(tok)
		f.clock.add(10 * time.Hour)
		s, err := f.auth.Refresh(viewer.NewContext(ctx, v))
		if err != nil {
			t.Fatal(err)
		}
		if !s.ExpiresAt.Equal(f.clock.now().Add(24 * time.Hour)) {
			t.Fatalf("refreshed expiry %v", s.ExpiresAt)
		}
		f.clock.add(30*24*time.Hour - 20*time.Hour)
		s, err = f.auth.Refresh(viewer.NewContext(ctx, v))
		if err != nil {
			t.Fatal(err)
		}
		if !s.ExpiresAt.Equal(s.MaxExpiresAt) {
			t.Fatalf("refresh went past the cap: %v > %v", s.ExpiresAt, s.MaxExpiresAt)
		}
	})

	t.Run("logout revokes the current session only", func(t *testing.T) {
		a, b := login(), login()
		va := authOK(a)
		if err := f.auth.Logout(viewer.NewContext(ctx, va)); err != nil {
			t.Fatal(err)
		}
		authFails(a)
		authOK(b)
	})

	t.Run("logout everywhere", func(t *testing.T) {
		a, b := login(), login()
		n, err := f.auth.LogoutEverywhere(viewer.NewContext(ctx, authOK(a)))
		if err != nil || n < 2 {
			t.Fatalf("revoked %d, %v", n, err)
		}
		authFails(a)
		authFails(b)
	})

	t.Run("disabling the user ends their tokens", func(t *testing.T) {
		tok := login()
		authOK(tok)
		if _, err := f.client.User.Update().Where(user.Username("alice")).SetDisabled(true).Save(viewer.System(ctx)); err != nil {
			t.Fatal(err)
		}
		authFails(tok)
		f.client.User.Update().Where(user.Username("alice")).SetDisabled(false).ExecX(viewer.System(ctx))
	})
}

func TestChangePassword(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	p1, _ := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
	p2, _ := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
	v, err := f.auth.Authenticate(ctx, p1.Token)
	if err != nil {
		t.Fatal(err)
	}
	vctx := viewer.NewContext(ctx, v)
	if err := f.auth.ChangePassword(vctx, "wrong-password", "new-password"); code(err) != apperr.BadUserInput {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := f.auth.ChangePassword(vctx, "alice-password", "short"); code(err) != apperr.BadUserInput {
		t.Fatalf("short new password: %v", err)
	}
	if err := f.auth.ChangePassword(vctx, "alice-password", "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Authenticate(ctx, p1.Token); err != nil {
		t.Fatalf("the current session was revoked: %v", err)
	}
	if _, err := f.auth.Authenticate(ctx, p2.Token); err == nil {
		t.Fatal("another session survived the password change")
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{}); err == nil {
		t.Fatal("the old password still works")
	}
	if _, err := f.auth.Login(ctx, "alice", "new-password", auth.ClientInfo{}); err != nil {
		t.Fatalf("the new password does not work: %v", err)
	}
}

func TestLoginThrottling(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	ci := auth.ClientInfo{IP: "198.51.100.7"}

	for i := 0; i < 5; i++ {
		if _, err := f.auth.Login(ctx, "alice", "guess", auth.ClientInfo{IP: "203.0.113.1"}); code(err) != apperr.Unauthenticated {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// Locked: even the right password from elsewhere is refused for now.
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); code(err) != apperr.RateLimited {
		t.Fatalf("want RATE_LIMITED after 5 failures, got %v", err)
	}
	f.clock.add(15*time.Minute + time.Second)
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); err != nil {
		t.Fatalf("the real user is not let back in after the lockout: %v", err)
	}

	// One address guessing many usernames is locked too.
	for i := 0; i < 5; i++ {
		_, _ = f.auth.Login(ctx, "user"+string(rune('a'+i)), "guess", ci)
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", ci); code(err) != apperr.RateLimited {
		t.Fatalf("want RATE_LIMITED for the address, got %v", err)
	}
	if _, err := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{IP: "198.51.100.8"}); err != nil {
		t.Fatalf("another address is locked out too: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		pws []string
	)
	for range 4 { // replicas starting at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw, err := f.auth.EnsureAdmin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if pw != "" {
				mu.Lock()
				pws = append(pws, pw)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(pws) != 1 {
		t.Fatalf("%d passwords printed, want exactly 1", len(pws))
	}
	admins := f.client.User.Query().Where(user.RoleEQ(user.RoleADMIN)).AllX(viewer.System(ctx))
	if len(admins) != 1 || admins[0].Username != auth.BootstrapUsername {
		t.Fatalf("admins: %v", admins)
	}
	if _, err := f.auth.Login(ctx, "admin", pws[0], auth.ClientInfo{}); err != nil {
		t.Fatalf("the printed password does not sign in: %v", err)
	}
	if pw, err := f.auth.EnsureAdmin(ctx); err != nil || pw != "" {
		t.Fatalf("second start created another admin: %q %v", pw, err)
	}
}

func TestSessionsAreNeverStoredInClear(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	p, _ := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
	n, err := f.client.UserSession.Query().Where(usersession.TokenHash(p.Token)).Count(viewer.System(ctx))
	if err != nil || n != 0 {
		t.Fatalf("the token itself is stored (%d rows, %v)", n, err)
	}
}

func TestChangePasswordGuessesAreThrottled(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.user(t, "alice", "alice-password", false)
	p, _ := f.auth.Login(ctx, "alice", "alice-password", auth.ClientInfo{})
	v, _ := f.auth.Authenticate(ctx, p.Token)
	vctx := viewer.NewContext(ctx, v)
	for i := 0; i < 5; i++ {
		if err := f.auth.ChangePassword(vctx, "guess", "new-password"); code(err) != apperr.BadUserInput {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	if err := f.auth.ChangePassword(vctx, "alice-password", "new-password"); code(err) != apperr.RateLimited {
		t.Fatalf("want RATE_LIMITED after 5 wrong current passwords, got %v", err)
	}
}
