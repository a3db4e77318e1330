package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/internal/apptest"
	"gatehouse/internal/testdb"
)

// binDir holds the gatehouse binary for the tests that run it as a
// process (the Dockerfile test, SIGTERM handling): a copy of this test
// binary named gatehouse, which runs main instead of the tests (see
// TestMain). It is the same package built with cgo, as the Dockerfile
// builds it, without a second link of the whole program.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

// binName is the name of the copy that runs as gatehouse.
const binName = "gatehouse"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == binName {
		main() // exits
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// gatehouseBinary returns the path of the gatehouse binary, made once.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-")
		if err != nil {
			binError = err
			return
		}
		binDir = dir
		// Tests run the binary as an unprivileged user too.
		if err := os.Chmod(dir, 0o755); err != nil {
			binError = err
			return
		}
		binPath = filepath.Join(dir, binName)
		binError = copyExecutable(binPath)
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// copyExecutable copies the running test binary to path, executable by all.
func copyExecutable(path string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s: %w", self, err)
	}
	return dst.Close()
}

// baseEnv is the environment every test command runs with: the cheapest
// bcrypt cost the configuration allows (commands run in-process hash with
// bcrypt.MinCost all the same, see cli) and JSON logs. Nothing is read from the real environment.
func baseEnv(extra map[string]string) map[string]string {
	m := map[string]string{
		"GATEHOUSE_AUTH_BCRYPT_COST": "10",
		"GATEHOUSE_LOG_FORMAT":       "json",
		// Not the default 127.0.0.1:9464: servers run side by side.
		"GATEHOUSE_METRICS_LISTEN": "127.0.0.1:0",
	}
	if testdb.Postgres() {
		// PostgreSQL servers need a signing secret (SQLite makes one).
		m["GATEHOUSE_SIGNING_SECRET"] = apptest.TestSigningSecret
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// cliResult is what a command line did.
type cliResult struct {
	code           int
	stdout, stderr string
}

// cli runs one command line in-process with the environment m (and
// nothing of the real environment) and stdin as standard input.
func cli(t *testing.T, m map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	return cliTimeout(t, 2*time.Minute, m, stdin, args...)
}

// cliTimeout is cli whose context ends after d: a server started by
// mistake stops then.
func cliTimeout(t *testing.T, d time.Duration, m map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	e := &env{
		ctx: ctx, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		environ: m, testBcryptCost: bcrypt.MinCost,
	}
	code := e.run(args)
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustCLI is cli that fails the test unless the command succeeds.
func mustCLI(t *testing.T, m map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	r := cli(t, m, stdin, args...)
	if r.code != 0 {
		t.Fatalf("gatehouse %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// testDSN returns a database for one test: a SQLite file in a temporary
// directory, or a fresh (unmigrated) PostgreSQL database when
// GATEHOUSE_TEST_POSTGRES is set.
func testDSN(t *testing.T) string {
	t.Helper()
	if testdb.Postgres() {
		return testdb.Options(t).DSN
	}
	return filepath.Join(t.TempDir(), "data", "gatehouse.db")
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines parses JSON log lines.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// served is a `gatehouse serve` running in-process.
type served struct {
	url    string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// listeningAddr finds the address in the "gatehouse listening" log line,
// JSON or text.
var listeningAddr = regexp.MustCompile(`"msg":"gatehouse listening","addr":"([^"]+)"|msg="gatehouse listening" addr=(\S+)`)

// listenURL returns the server's URL from its logs, or "".
func listenURL(logs string) string {
	m := listeningAddr.FindStringSubmatch(logs)
	if m == nil {
		return ""
	}
	return "http://" + m[1] + m[2]
}

// startServe runs `gatehouse serve --listen 127.0.0.1:0 args...` in-process
// with environment m (JSON logs) until the test ends, and waits until it
// listens.
func startServe(t *testing.T, m map[string]string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{logs: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.logs,
		environ: m, testBcryptCost: bcrypt.MinCost}
	go func() { s.done <- e.run(append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.After(60 * time.Second)
	for {
		if u := listenURL(s.logs.String()); u != "" {
			s.url = u
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited with %d before listening:\n%s", code, s.logs.String())
		case <-deadline:
			t.Fatalf("serve did not start listening:\n%s", s.logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop cancels the server (as SIGTERM does) and returns its exit status.
func (s *served) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop")
		return -1
	}
}

// gqlResult is a GraphQL answer.
type gqlResult struct {
	status int
	header http.Header
	raw    string
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r *gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gql sends one GraphQL request; header adds request headers.
func gql(t *testing.T, url, token, op, query string, vars map[string]any, header map[string]string) *gqlResult {
	t.Helper()
	r, err := doGQL(url, token, op, query, vars, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// doGQL is gql for goroutines other than the test's.
func doGQL(url, token, op, query string, vars map[string]any, header map[string]string) (*gqlResult, error) {
	body, _ := json.Marshal(map[string]any{"operationName": op, "query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("graphql %s: %v", op, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &gqlResult{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("graphql %s: answer %d %q: %v", op, res.StatusCode, raw, err)
	}
	return out, nil
}

const loginMutation = `mutation SignIn($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token user { id } } }`

// login signs in and returns the token and user id; it fails the test if
// the sign-in fails.
func login(t *testing.T, url, username, password string) (token, userID string) {
	t.Helper()
	r := gql(t, url, "", "SignIn", loginMutation, map[string]any{"u": username, "p": password}, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("login %s: %s", username, r.raw)
	}
	l := r.Data["login"].(map[string]any)
	return l["token"].(string), l["user"].(map[string]any)["id"].(string)
}

// loginCode signs in and returns the error code ("" on success).
func loginCode(t *testing.T, url, username, password string) string {
	t.Helper()
	return gql(t, url, "", "SignIn", loginMutation, map[string]any{"u": username, "p": password}, nil).code()
}

// meCode asks who the token belongs to and returns the error code ("" when
// the token works).
func meCode(t *testing.T, url, token string) string {
	t.Helper()
	return gql(t, url, token, "Me", `query Me { me { username } }`, nil, nil).code()
}

// httpGet returns the status and body of a GET.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
