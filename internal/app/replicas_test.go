package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/apptest"
	"gatehouse/internal/testdb"
)

// replica is one `gatehouse serve` process.
type replica struct {
	name string
	url  string
	mu   sync.Mutex
	log  bytes.Buffer
}

func (r *replica) logs() string { r.mu.Lock(); defer r.mu.Unlock(); return r.log.String() }

var listening = regexp.MustCompile(`msg="gatehouse listening" addr=(\S+)`)

// buildBinary builds cmd/gatehouse once for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "gatehouse/cmd/gatehouse")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs `gatehouse serve` on dsn and waits until it listens.
func startReplica(t *testing.T, bin, name, dsn string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--db", dsn, "--listen", "127.0.0.1:0")
	cmd.Dir = t.TempDir() // no ./config/config.toml here
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_CONFIG=",
		"GATEHOUSE_AUTH_BCRYPT_COST=10",
		"GATEHOUSE_SERVER_TRUSTED_PROXIES=127.0.0.1",
		"GATEHOUSE_SIGNING_SECRET="+apptest.TestSigningSecret,
		"GATEHOUSE_METRICS_LISTEN=127.0.0.1:0", // replicas side by side
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.log.WriteString(line + "\n")
			r.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, r.logs())
		}
	})
	select {
	case a := <-addr:
		r.url = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, r.logs())
	}
	return r
}

type gqlResult struct {
	Data   map[string]any
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

func (g gqlResult) code() string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

func (r *replica) gql(t *testing.T, token, clientIP, query string, vars map[string]any) gqlResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, r.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if clientIP != "" {
		req.Header.Set("X-Forwarded-For", clientIP)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	defer res.Body.Close()
	var out gqlResult
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s: decode: %v", r.name, err)
	}
	return out
}

func (r *replica) login(t *testing.T, user, pw string) string {
	t.Helper()
	res := r.gql(t, "", "", `mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`, map[string]any{"u": user, "p": pw})
	if len(res.Errors) > 0 {
		t.Fatalf("%s: login %s: %+v", r.name, user, res.Errors)
	}
	return res.Data["login"].(map[string]any)["token"].(string)
}

// TestTwoReplicasShareOnePostgres runs two `gatehouse serve` processes on
// one PostgreSQL database behind no sticky balancer: whatever one replica
// does, the other sees.
func TestTwoReplicasShareOnePostgres(t *testing.T) {
	if !testdb.Postgres() {
		t.Skipf("set %s to a PostgreSQL DSN to run the multi-replica test", testdb.EnvPostgres)
	}
	dsn := testdb.Options(t).DSN
	bin := buildBinary(t)

	// Both start at once on an empty database: migration is serialised and
	// exactly one of them creates (and prints) the first admin.
	var a, b *replica
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = startReplica(t, bin, "A", dsn) }()
	go func() { defer wg.Done(); b = startReplica(t, bin, "B", dsn) }()
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	pwRE := regexp.MustCompile(`created the first admin.* password=(\S+)`)
	var passwords []string
	for _, r := range []*replica{a, b} {
		for _, m := range pwRE.FindAllStringSubmatch(r.logs(), -1) {
			passwords = append(passwords, m[1])
		}
	}
	if len(passwords) != 1 {
		t.Fatalf("first admin password printed %d times, want once", len(passwords))
	}
	adminPW := passwords[0]

	for _, r := range []*replica{a, b} {
		res, err := http.Get(r.url + "/readyz")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s not ready: %v", r.name, err)
		}
		res.Body.Close()
	}

	t.Run("sign in on A, use the token on B", func(t *testing.T) {
		tok := a.login(t, "admin", adminPW)
		res := b.gql(t, tok, "", `{me{username role}}`, nil)
		if len(res.Errors) > 0 || res.Data["me"].(map[string]any)["username"] != "admin" {
			t.Fatalf("B: %+v", res)
		}
	})

	admin := a.login(t, "admin", adminPW)
	t.Run("both sign with the one key both publish", func(t *testing.T) {
		jwks := func(r *replica) string {
			res, err := http.Get(r.url + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return string(b)
		}
		setA, setB := jwks(a), jwks(b)
		if setA != setB || strings.Count(setA, `"kid"`) != 1 {
			t.Fatalf("A publishes %s, B %s; want the same one key", setA, setB)
		}
		for _, r := range []*replica{a, b} {
			res := r.gql(t, admin, "", `{entitlementToken{token}}`, nil)
			if len(res.Errors) > 0 {
				t.Fatalf("%s: %+v", r.name, res.Errors)
			}
			tok := res.Data["entitlementToken"].(map[string]any)["token"].(string)
			header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			var h struct{ Kid string }
			if err != nil || json.Unmarshal(header, &h) != nil || !strings.Contains(setA, `"kid":"`+h.Kid+`"`) {
				t.Errorf("%s signs with kid %q, not the published key", r.name, h.Kid)
			}
		}
	})
	t.Run("create on A, list on B", func(t *testing.T) {
		res := a.gql(t, admin, "", `mutation{createUser(input:{username:"alice",password:"alice-password"}){id}}`, nil)
		if len(res.Errors) > 0 {
			t.Fatalf("A: %+v", res.Errors)
		}
		res = b.gql(t, admin, "", `{users(where:{username:"alice"}){totalCount}}`, nil)
		if len(res.Errors) > 0 || res.Data["users"].(map[string]any)["totalCount"].(float64) != 1 {
			t.Fatalf("B does not list alice: %+v", res)
		}
	})

	t.Run("revoke on B, refused on A", func(t *testing.T) {
		tok := a.login(t, "alice", "alice-password")
		if res := a.gql(t, tok, "", `{me{id}}`, nil); len(res.Errors) > 0 {
			t.Fatalf("A: %+v", res.Errors)
		}
		if res := b.gql(t, tok, "", `mutation{logout}`, nil); len(res.Errors) > 0 {
			t.Fatalf("B logout: %+v", res.Errors)
		}
		if res := a.gql(t, tok, "", `{me{id}}`, nil); res.code() != "UNAUTHENTICATED" {
			t.Fatalf("A still accepts a token revoked on B: %+v", res)
		}
	})

	t.Run("a dashboard cookie from A works on B", func(t *testing.T) {
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noRedirect.PostForm(a.url+"/admin/login", url.Values{"username": {"admin"}, "password": {adminPW}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		cookies := res.Cookies()
		if res.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
			t.Fatalf("A: sign-in answered %d with %d cookies", res.StatusCode, len(cookies))
		}
		req, _ := http.NewRequest(http.MethodGet, b.url+"/admin/users", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err = noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(page), "alice") {
			t.Fatalf("B: %d, page without the user list", res.StatusCode)
		}
	})

	t.Run("throttling counts attempts made on both", func(t *testing.T) {
		// Each guess comes from another address, so only the username's
		// count can lock: three guesses on A and two on B make five.
		guess := func(r *replica, i int) string {
			ip := "203.0.113." + string(rune('1'+i))
			return r.gql(t, "", ip, `mutation{login(input:{username:"alice",password:"wrong-guess"}){token}}`, nil).code()
		}
		for i, r := range []*replica{a, a, a, b, b} {
			if c := guess(r, i); c != "UNAUTHENTICATED" {
				t.Fatalf("guess %d on %s: %s", i+1, r.name, c)
			}
		}
		for _, r := range []*replica{a, b} {
			res := r.gql(t, "", "198.51.100.1", `mutation{login(input:{username:"alice",password:"alice-password"}){token}}`, nil)
			if res.code() != "RATE_LIMITED" {
				t.Fatalf("%s after 5 failures spread over both: %+v", r.name, res)
			}
		}
	})
}
