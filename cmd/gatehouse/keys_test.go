package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// TestKeysCommands lists, rotates and retires signing keys from the
// console; no output shows a private key.
func TestKeysCommands(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	mustCLI(t, m, "", "migrate", "--db", dsn)

	if r := mustCLI(t, m, "", "keys", "list", "--db", dsn); !strings.Contains(r.stdout, "no signing keys yet") {
		t.Errorf("list on a new database: %q", r.stdout)
	}
	kidRE := regexp.MustCompile(`new current key (\S+)`)
	rotate := func() string {
		t.Helper()
		r := mustCLI(t, m, "", "keys", "rotate", "--db", dsn)
		k := kidRE.FindStringSubmatch(r.stdout)
		if k == nil {
			t.Fatalf("rotate: %q", r.stdout)
		}
		return k[1]
	}
	first := rotate()
	second := rotate()
	if first == second {
		t.Fatal("rotate made no new key")
	}
	list := mustCLI(t, m, "", "keys", "list", "--db", dsn).stdout
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "KID") ||
		!regexp.MustCompile(`^`+regexp.QuoteMeta(second)+`\s+EdDSA\s+\S+\s+current\s+while current$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+regexp.QuoteMeta(first)+`\s+EdDSA\s+\S+\s+published\s+\d{4}-`).MatchString(lines[2]) {
		t.Fatalf("list after two rotations:\n%s", list)
	}

	// A kid may start with "-" (it is base64url): "--" ends the flags.
	r := cli(t, m, "", "keys", "retire", "--db", dsn, "--", second)
	if r.code != 1 || !strings.Contains(r.stderr, "rotate first") {
		t.Errorf("retiring the current key: exit %d, %q", r.code, r.stderr)
	}
	if r := cli(t, m, "", "keys", "retire", "no-such-key", "--db", dsn); r.code != 1 || !strings.Contains(r.stderr, "no signing key") {
		t.Errorf("retiring an unknown key: exit %d, %q", r.code, r.stderr)
	}
	mustCLI(t, m, "", "keys", "retire", "--db", dsn, "--", first)
	list = mustCLI(t, m, "", "keys", "list", "--db", dsn).stdout
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(first) + `\s+EdDSA\s+\S+\s+retired\s+retired `).MatchString(list) {
		t.Errorf("list after retiring:\n%s", list)
	}

	// A secret that does not open the keys makes no key.
	other := base64.StdEncoding.EncodeToString([]byte("another-secret-of-32-bytes-long!"))
	wrong := baseEnv(map[string]string{"GATEHOUSE_SIGNING_SECRET": other})
	if r := cli(t, wrong, "", "keys", "rotate", "--db", dsn); r.code != 1 || !strings.Contains(r.stderr, "does not open") {
		t.Errorf("rotate with a wrong secret: exit %d, %q", r.code, r.stderr)
	}
	// Nor does a server start with it: a clear message, no secret shown.
	r = cliTimeout(t, 30*time.Second, wrong, "", "serve", "--listen", "127.0.0.1:0", "--db", dsn)
	if r.code != 1 || !strings.Contains(r.stderr, "does not open") || strings.Contains(r.stderr+r.stdout, other) {
		t.Errorf("serve with a wrong secret: exit %d, %q", r.code, r.stderr)
	}

	// No private key in anything the commands printed.
	o := db.Options{Driver: db.SQLite, DSN: dsn}
	if testdb.Postgres() {
		o.Driver = db.Postgres
	}
	d, err := db.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	keys := d.Ent.SigningKey.Query().AllX(viewer.System(context.Background()))
	if len(keys) != 2 {
		t.Fatalf("%d keys in the database, want 2", len(keys))
	}
	for _, k := range keys {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(k.PrivateKeySealed), base64.RawURLEncoding.EncodeToString(k.PrivateKeySealed), hex.EncodeToString(k.PrivateKeySealed)} {
			if strings.Contains(list, enc) {
				t.Error("keys list shows a sealed private key")
			}
		}
	}

	for _, args := range [][]string{{"keys"}, {"keys", "nope"}, {"keys", "retire", "--db", dsn}} {
		if r := cli(t, m, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, r.code)
		}
	}
}
