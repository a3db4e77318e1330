package signing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/apperr"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/signing"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, signing.SecretSize) }

func opts() signing.Options {
	return signing.Options{Issuer: "gatehouse", DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour, Logger: quiet()}
}

func newSigner(t *testing.T, d *db.DB, sec []byte) *signing.Signer {
	t.Helper()
	s, err := signing.New(d.Ent, sec, opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	raw := secret(7)
	for name, in := range map[string]string{
		"base64":         base64.StdEncoding.EncodeToString(raw) + "\n",
		"base64 raw url": base64.RawURLEncoding.EncodeToString(raw),
		"hex":            "  " + hex.EncodeToString(raw) + "\r\n",
	} {
		got, err := signing.ParseSecret(in)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	for name, in := range map[string]string{
		"empty":    "",
		"short":    base64.StdEncoding.EncodeToString(raw[:16]),
		"not text": "this is not a secret!",
	} {
		if _, err := signing.ParseSecret(in); err == nil {
			t.Errorf("%s: accepted", name)
		} else if in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("%s: the error shows the value: %v", name, err)
		}
	}
}

func TestResolveSecret(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString(secret(1))
	ctx := context.Background()
	mem := &db.DB{Driver: db.SQLite}
	resolve := func(cfg config.Config, log *slog.Logger) ([]byte, error) {
		return signing.ResolveSecret(ctx, cfg.Signing, mem, log)
	}
	t.Run("environment", func(t *testing.T) {
		cfg := config.Default()
		cfg.Signing.Secret = good
		b, err := resolve(cfg, quiet())
		if err != nil || !bytes.Equal(b, secret(1)) {
			t.Fatalf("%x, %v", b, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "s")
		if err := os.WriteFile(p, []byte(hex.EncodeToString(secret(2))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Signing.SecretFile = p
		b, err := resolve(cfg, quiet())
		if err != nil || !bytes.Equal(b, secret(2)) {
			t.Fatalf("%x, %v", b, err)
		}
		cfg.Signing.Secret = good
		if _, err := resolve(cfg, quiet()); err == nil {
			t.Error("both the variable and the file: accepted")
		}
	})
	t.Run("file readable by others is used with a warning", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "s")
		if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Signing.SecretFile = p
		var logs bytes.Buffer
		if _, err := resolve(cfg, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "chmod 600") || strings.Contains(logs.String(), good) {
			t.Errorf("log: %s", logs.String())
		}
	})
	t.Run("missing file", func(t *testing.T) {
		cfg := config.Default()
		cfg.Signing.SecretFile = filepath.Join(t.TempDir(), "nope")
		if _, err := resolve(cfg, quiet()); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("postgres without a secret", func(t *testing.T) {
		cfg := config.Default()
		if _, err := signing.ResolveSecret(ctx, cfg.Signing, &db.DB{Driver: db.Postgres}, quiet()); !errors.Is(err, signing.ErrNoSecret) {
			t.Errorf("err = %v, want ErrNoSecret", err)
		}
	})
	t.Run("sqlite file gets a 0600 secret file beside it, once", func(t *testing.T) {
		dir := t.TempDir()
		dbPath := filepath.Join(dir, "gh.db")
		d := openFile(t, dbPath)
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		cfg := config.Default()
		first, err := signing.ResolveSecret(ctx, cfg.Signing, d, log)
		if err != nil {
			t.Fatal(err)
		}
		p := dbPath + signing.SecretFileSuffix
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("secret file: %v, %v", fi, err)
		}
		again, err := signing.ResolveSecret(ctx, cfg.Signing, d, log)
		if err != nil || !bytes.Equal(first, again) {
			t.Fatalf("second start: %v, same secret %v", err, bytes.Equal(first, again))
		}
		if n := strings.Count(logs.String(), "created the signing secret file"); n != 1 {
			t.Errorf("the creation was logged %d times:\n%s", n, logs.String())
		}
		if strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(first)) {
			t.Error("the log shows the secret")
		}
		entries, _ := filepath.Glob(filepath.Join(dir, ".signing-secret-*"))
		if len(entries) != 0 {
			t.Errorf("left behind: %v", entries)
		}
	})
	t.Run("a database with keys and no secret file gets no new secret", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "gh.db")
		d := openFile(t, dbPath)
		sec, err := signing.ResolveSecret(ctx, config.Default().Signing, d, quiet())
		if err != nil {
			t.Fatal(err)
		}
		newSigner(t, d, sec)
		if err := os.Remove(dbPath + signing.SecretFileSuffix); err != nil {
			t.Fatal(err)
		}
		_, err = signing.ResolveSecret(ctx, config.Default().Signing, d, quiet())
		if !errors.Is(err, signing.ErrNoSecret) || !strings.Contains(err.Error(), "is missing") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(dbPath + signing.SecretFileSuffix); err == nil {
			t.Error("a new secret file was made")
		}
	})
	t.Run("sqlite files made at once agree", func(t *testing.T) {
		cfg := config.Default()
		d := openFile(t, filepath.Join(t.TempDir(), "gh.db"))
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		for i := range got {
			wg.Go(func() {
				b, err := signing.ResolveSecret(ctx, cfg.Signing, d, quiet())
				if err != nil {
					t.Error(err)
				}
				got[i] = b
			})
		}
		wg.Wait()
		for _, b := range got[1:] {
			if !bytes.Equal(b, got[0]) {
				t.Fatal("two secrets for one database")
			}
		}
	})
}

func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	d := testdb.Open(t)
	ctx := context.Background()
	s := newSigner(t, d, secret(3))
	keys, err := s.List(ctx)
	if err != nil || len(keys) != 1 || keys[0].State != signing.StateCurrent || keys[0].Algorithm != "EdDSA" {
		t.Fatalf("after the first start: %+v, %v", keys, err)
	}
	first := keys[0].Kid

	// A second start (another replica, a restart) keeps the key.
	newSigner(t, d, secret(3))
	if keys, _ = s.List(ctx); len(keys) != 1 {
		t.Fatalf("a second start made another key: %+v", keys)
	}

	// The private half is stored sealed: not the seed in clear.
	row := d.Ent.SigningKey.Query().OnlyX(viewer.System(ctx))
	if len(row.PrivateKeySealed) <= ed25519.SeedSize || strings.Contains(row.String(), base64.StdEncoding.EncodeToString(row.PrivateKeySealed)) {
		t.Errorf("sealed key %d bytes; String() %s", len(row.PrivateKeySealed), row.String())
	}

	// Nobody but the system reads the keys.
	for _, v := range []*viewer.Viewer{nil, {UserID: 1, Role: viewer.RoleUser}, {UserID: 1, Role: viewer.RoleAdmin}} {
		if _, err := d.Ent.SigningKey.Query().All(viewer.NewContext(ctx, v)); err == nil {
			t.Errorf("viewer %+v read the signing keys", v)
		}
	}

	// A wrong secret is a clear start error.
	wrong, _ := signing.New(d.Ent, secret(4), opts())
	if err := wrong.Start(ctx); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("wrong secret: %v", err)
	}

	rot, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ = s.List(ctx)
	if len(keys) != 2 || keys[0].Kid != rot.Kid || keys[0].State != signing.StateCurrent ||
		keys[1].Kid != first || keys[1].State != signing.StatePublished || keys[1].PublishedUntil == nil ||
		keys[1].PublishedUntil.Before(time.Now().Add(24*time.Hour)) {
		t.Fatalf("after a rotation: %+v", keys)
	}
	set, err := s.JWKS(ctx)
	if err != nil || len(set.Keys) != 2 || set.Keys[0].KeyID != rot.Kid || set.Keys[1].KeyID != first {
		t.Fatalf("JWKS after a rotation: %+v, %v", set, err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("published key %+v", k)
		}
	}

	if _, err := s.Retire(ctx, rot.Kid); apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("retiring the current key: %v", err)
	}
	if _, err := s.Retire(ctx, "no-such-kid"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("retiring an unknown key: %v", err)
	}
	if k, err := s.Retire(ctx, first); err != nil || k.State != signing.StateRetired {
		t.Fatalf("retire: %+v, %v", k, err)
	}
	if set, _ = s.JWKS(ctx); len(set.Keys) != 1 || set.Keys[0].KeyID != rot.Kid {
		t.Errorf("JWKS after retiring: %+v", set)
	}
}

// A key that no longer signs leaves the JWKS once its publication ends.
func TestPublicationEnds(t *testing.T) {
	t.Parallel()
	d := testdb.Open(t)
	ctx := context.Background()
	now := time.Now()
	o := opts()
	o.Now = func() time.Time { return now }
	s, _ := signing.New(d.Ent, secret(5), o)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(o.MaxTTL + signing.PublishMargin - time.Second)
	if set, _ := s.JWKS(ctx); len(set.Keys) != 2 {
		t.Fatalf("before its end: %d keys", len(set.Keys))
	}
	now = now.Add(2 * time.Second)
	if set, _ := s.JWKS(ctx); len(set.Keys) != 1 {
		t.Fatalf("after its end: %d keys", len(set.Keys))
	}
	keys, _ := s.List(ctx)
	if keys[1].State != signing.StateExpired {
		t.Errorf("state %s, want expired", keys[1].State)
	}
}

// Replicas starting at once on an empty table end with one current key:
// each opens the database itself (a SQLite file, or PostgreSQL).
func TestConcurrentStartsMakeOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := testdb.Options(t)
	if o.Driver == db.SQLite {
		o.DSN = filepath.Join(t.TempDir(), "gh.db")
	}
	first := openWith(t, o)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			dd, err := db.Open(ctx, o)
			if err != nil {
				t.Error(err)
				return
			}
			defer dd.Close()
			s, err := signing.New(dd.Ent, secret(6), opts())
			if err == nil {
				err = s.Start(ctx)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := first.Ent.SigningKey.Query().CountX(viewer.System(ctx)); n != 1 {
		t.Fatalf("%d keys after concurrent starts, want 1", n)
	}
}

// openFile opens and migrates a SQLite database in a file.
func openFile(t *testing.T, path string) *db.DB {
	return openWith(t, db.Options{Driver: db.SQLite, DSN: path})
}

func openWith(t *testing.T, o db.Options) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// The tokens' signatures verify with the published key, and ttl is checked.
func TestIssueSignsWithTheCurrentKey(t *testing.T) {
	t.Parallel()
	d := testdb.Open(t)
	ctx := context.Background()
	s := newSigner(t, d, secret(8))
	u := d.Ent.User.Create().SetUsername("ann").SetUsernameFold("ann").SetPasswordHash("x").SaveX(viewer.System(ctx))
	admin := viewer.NewContext(ctx, &viewer.Viewer{UserID: 999, Role: viewer.RoleAdmin})
	tok, err := s.IssueForUser(admin, u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := s.JWKS(ctx)
	jws, err := jose.ParseSigned(tok.Token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != set.Keys[0].KeyID {
		t.Fatalf("kid %q, published %q", kid, set.Keys[0].KeyID)
	}
	payload, err := jws.Verify(set.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var c signing.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Subject != itoa(u.ID) || c.SessionID != "" || c.Expiry-c.IssuedAt != int64(time.Hour/time.Second) || c.Features == nil {
		t.Errorf("claims %+v", c)
	}
	for _, ttl := range []time.Duration{0, -time.Second, 24*time.Hour + time.Second} {
		if _, err := s.IssueForUser(admin, u.ID, &ttl); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("ttl %s: %v", ttl, err)
		}
	}
	user := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Role: viewer.RoleUser})
	if _, err := s.IssueForUser(user, u.ID, nil); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("a user asking for a user's token: %v", err)
	}
	if _, err := s.IssueForUser(admin, u.ID+1000, nil); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("an unknown user: %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
