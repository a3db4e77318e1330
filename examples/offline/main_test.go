package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// TestOfflineVerifier builds this program, saves a live server's JWKS and
// a user's token to files, and runs it on them: it prints the features the
// token unlocks, and refuses a tampered token, a token of a key the saved
// JWKS does not have, and another issuer.
func TestOfflineVerifier(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "offline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("root", "root-password", user.RoleADMIN)
	u := s.CreateUser("ann", "ann-password", user.RoleUSER)
	admin := s.Login("root", "root-password")
	s.MustDo(admin, `mutation{
		a: createFeature(input:{key:"moe_gatherer", name:"Moe", kind:SWITCH}){id}
		b: createFeature(input:{key:"projects", name:"Projects", kind:LIMIT}){id}
	}`, nil)
	r := s.MustDo(admin, `mutation{createPackage(input:{name:"Pro", days:30, contents:[{name:"Moe", featureKey:"moe_gatherer"}, {name:"Ten", featureKey:"projects", limit:10}]}){id}}`, nil)
	var p struct{ CreatePackage struct{ ID string } }
	r.Decode(t, &p)
	s.MustDo(admin, `mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u, packageID:$p}){id}}`,
		map[string]any{"u": fmt.Sprint(u.ID), "p": p.CreatePackage.ID})
	ann := s.Login("ann", "ann-password")
	token := func() string {
		r := s.MustDo(ann, `{entitlementToken(ttl:"1h"){token}}`, nil)
		var d struct{ EntitlementToken struct{ Token string } }
		r.Decode(t, &d)
		return d.EntitlementToken.Token
	}
	tok := token()

	res, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(res.Body)
	res.Body.Close()
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	offline := func(t *testing.T, tok string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-jwks", jwksFile}, args...)...)
		cmd.Stdin = strings.NewReader(tok + "\n")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}

	t.Run("a valid token", func(t *testing.T) {
		out, errOut, code := offline(t, tok, "-issuer", "gatehouse")
		want := []*regexp.Regexp{
			regexp.MustCompile(fmt.Sprintf(`(?m)^valid token for user %d, signed by key \S+, until \S+$`, u.ID)),
			regexp.MustCompile(`(?m)^unlocked moe_gatherer until \S+$`),
			regexp.MustCompile(`(?m)^unlocked projects until \S+, limit 10$`),
		}
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		for _, re := range want {
			if !re.MatchString(out) {
				t.Errorf("output lacks %s:\n%s", re, out)
			}
		}
	})
	t.Run("from a file", func(t *testing.T) {
		f := filepath.Join(dir, "token.txt")
		if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := offline(t, "", "-token", f); code != 0 || !strings.Contains(out, "unlocked moe_gatherer") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})

	parts := strings.Split(tok, ".")
	rawSig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	rawSig[5] ^= 1
	sig := base64.RawURLEncoding.EncodeToString(rawSig)
	for name, c := range map[string]struct {
		tok  string
		args []string
		want string
	}{
		"tampered signature": {parts[0] + "." + parts[1] + "." + sig, nil, "bad signature"},
		"other issuer":       {tok, []string{"-issuer", "https://elsewhere.example"}, "issued by"},
		"not a token":        {"hello", nil, "not a token"},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := offline(t, c.tok, c.args...)
			if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(out, "unlocked") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 with %q", code, out, errOut, c.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		// In-process, on a clock two hours on: the 1h token has expired.
		var out bytes.Buffer
		err := run([]string{"-jwks", jwksFile}, strings.NewReader(tok), &out, time.Now().Add(2*time.Hour))
		if err == nil || !strings.Contains(err.Error(), "expired") || out.Len() != 0 {
			t.Errorf("err %v, output %q", err, out.String())
		}
	})
	t.Run("a key the saved JWKS lacks", func(t *testing.T) {
		if _, err := s.App.Signer.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := offline(t, token())
		if code != 1 || !strings.Contains(errOut, "unknown key") || strings.Contains(out, "unlocked") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}
