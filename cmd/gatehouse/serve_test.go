package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// TestLogsCarryNoSecrets drives requests full of secrets through a real
// server and reads its log: no password, token, cookie or hash may appear,
// while every request has its access line, tied to the X-Request-Id header.
func TestLogsCarryNoSecrets(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			dsn := testDSN(t)
			m := baseEnv(map[string]string{"GATEHOUSE_LOG_FORMAT": format, "GATEHOUSE_LOG_LEVEL": "debug"})
			const (
				adminPW   = "Admin-Secret-Pw-1"
				wrongPW   = "Wrong-Secret-Pw-2"
				newUserPW = "NewUser-Secret-Pw-3"
				changedPW = "Changed-Secret-Pw-4"
				updatedPW = "Updated-Secret-Pw-5"
				cookie    = "Cookie-Secret-Value-6"
				bogus     = "gate_BogusTokenSecret7"
				querySec  = "Query-Secret-8"
			)
			r := mustCLI(t, m, adminPW+"\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
			cliOutput := r.stdout + r.stderr
			s := startServe(t, m, "--db", dsn)

			type sent struct {
				id, op, path string
				status       int
				viewer       string // expected viewer_id, "" for none
			}
			var reqs []sent
			note := func(res *gqlResult, op, viewer string) *gqlResult {
				reqs = append(reqs, sent{id: res.header.Get("X-Request-Id"), op: op, path: "/graphql", status: res.status, viewer: viewer})
				return res
			}

			res := note(gql(t, s.url, "", "SignIn", loginMutation, map[string]any{"u": "root", "p": adminPW}, nil), "SignIn", "")
			if len(res.Errors) > 0 {
				t.Fatalf("login: %s", res.raw)
			}
			login := res.Data["login"].(map[string]any)
			token := login["token"].(string)
			rootID := login["user"].(map[string]any)["id"].(string)

			if res = note(gql(t, s.url, "", "SignIn", loginMutation, map[string]any{"u": "root", "p": wrongPW}, nil), "SignIn", ""); res.code() != "UNAUTHENTICATED" {
				t.Fatalf("wrong password: %s", res.raw)
			}
			res = note(gql(t, s.url, token, "WhoAmI", `query WhoAmI { me { id username } }`, nil,
				map[string]string{"Cookie": "gatehouse_session=" + cookie + "; other=" + cookie}), "WhoAmI", rootID)
			if len(res.Errors) > 0 {
				t.Fatalf("me: %s", res.raw)
			}
			res = note(gql(t, s.url, token, "AddUser", `mutation AddUser($p: String!) { createUser(input: {username: "dora", password: $p}) { id } }`,
				map[string]any{"p": newUserPW}, nil), "AddUser", rootID)
			if len(res.Errors) > 0 {
				t.Fatalf("createUser: %s", res.raw)
			}
			doraID := res.Data["createUser"].(map[string]any)["id"].(string)
			res = note(gql(t, s.url, token, "SetPassword", `mutation SetPassword($id: ID!, $p: String!) { updateUser(id: $id, input: {password: $p}) { id } }`,
				map[string]any{"id": doraID, "p": updatedPW}, nil), "SetPassword", rootID)
			if len(res.Errors) > 0 {
				t.Fatalf("updateUser: %s", res.raw)
			}
			res = note(gql(t, s.url, token, "ChangeMine", `mutation ChangeMine($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`,
				map[string]any{"c": adminPW, "n": changedPW}, nil), "ChangeMine", rootID)
			if len(res.Errors) > 0 {
				t.Fatalf("changePassword: %s", res.raw)
			}
			if res = note(gql(t, s.url, bogus, "WhoAmI", `query WhoAmI { me { id } }`, nil, nil), "WhoAmI", ""); res.code() != "UNAUTHENTICATED" {
				t.Fatalf("bogus token: %s", res.raw)
			}
			hreq, _ := http.NewRequest(http.MethodGet, s.url+"/healthz?token="+querySec, nil)
			hreq.Header.Set("Cookie", "gatehouse_session="+cookie)
			hres, err := http.DefaultClient.Do(hreq)
			if err != nil {
				t.Fatal(err)
			}
			hres.Body.Close()
			reqs = append(reqs, sent{id: hres.Header.Get("X-Request-Id"), path: "/healthz", status: 200})

			if code := s.stop(t); code != 0 {
				t.Fatalf("serve exited with %d", code)
			}
			logs := s.logs.String()

			for _, secret := range []string{adminPW, wrongPW, newUserPW, changedPW, updatedPW, cookie, bogus, querySec, token, "$2a$", "$2b$", "$2y$"} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log contains the secret %q:\n%s", secret, logs)
				}
				if strings.Contains(cliOutput, secret) {
					t.Errorf("user create printed the secret %q: %s", secret, cliOutput)
				}
			}

			access := accessLines(t, format, logs)
			for _, q := range reqs {
				if q.id == "" {
					t.Fatalf("a response to %s %s has no X-Request-Id header", q.op, q.path)
				}
				line, ok := access[q.id]
				if !ok {
					t.Errorf("no access line with request_id %s (%s %s):\n%s", q.id, q.op, q.path, logs)
					continue
				}
				want := map[string]string{
					"method": map[bool]string{true: "POST", false: "GET"}[q.path == "/graphql"],
					"path":   q.path, "status": strconv.Itoa(q.status), "operation": q.op, "viewer_id": q.viewer,
				}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("request %s (%s): access line %s = %q, want %q", q.id, q.op, k, line[k], v)
					}
				}
				if _, err := strconv.ParseFloat(line["duration_ms"], 64); err != nil {
					t.Errorf("request %s: access line has no duration: %v", q.id, line)
				}
			}
		})
	}
}

// accessLines returns the access log lines ("request"), keyed by request
// id, as key → value strings.
func accessLines(t *testing.T, format, logs string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	add := func(kv map[string]string) {
		if kv["msg"] == "request" {
			if _, dup := out[kv["request_id"]]; dup {
				t.Errorf("two access lines for request %s", kv["request_id"])
			}
			out[kv["request_id"]] = kv
		}
	}
	if format == "json" {
		for _, l := range logLines(t, logs) {
			kv := map[string]string{}
			for k, v := range l {
				kv[k] = fmt.Sprint(v)
				if f, ok := v.(float64); ok {
					kv[k] = strconv.FormatFloat(f, 'f', -1, 64)
				}
			}
			add(kv)
		}
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		kv := map[string]string{}
		for _, f := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = strings.Trim(v, `"`)
			}
		}
		add(kv)
	}
	return out
}

// openSide opens the database behind a running server, as another process
// would.
func openSide(t *testing.T, dsn string) *db.DB {
	t.Helper()
	o := db.Options{Driver: db.SQLite, DSN: dsn}
	if testdb.Postgres() {
		o.Driver = db.Postgres
	}
	d, err := db.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestInternalErrorsLogTheRequestID breaks the database under a running
// server: the client gets a generic error, and the error log line carries
// the request id that the response header shows.
func TestInternalErrorsLogTheRequestID(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
	s := startServe(t, m, "--db", dsn)
	token, _ := login(t, s.url, "root", "root-password-1")
	side := openSide(t, dsn)
	drop := func(table string) {
		stmt := "DROP TABLE " + table
		if testdb.Postgres() {
			stmt += " CASCADE"
		}
		if _, err := side.SQL.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	errorLine := func(id string) map[string]any {
		for _, l := range logLines(t, s.logs.String()) {
			if l["level"] == "ERROR" && l["request_id"] == id {
				return l
			}
		}
		t.Fatalf("no ERROR line with request_id %q:\n%s", id, s.logs.String())
		return nil
	}

	// A resolver fails.
	drop("user_packages")
	res := gql(t, s.url, token, "MyPackages", `query MyPackages { me { username packages { id } } }`, nil, nil)
	if res.code() != "INTERNAL_SERVER_ERROR" || strings.Contains(res.raw, "user_packages") {
		t.Fatalf("answer to a failing resolver: %s", res.raw)
	}
	l := errorLine(res.header.Get("X-Request-Id"))
	if !strings.Contains(fmt.Sprint(l["err"]), "user_packages") {
		t.Errorf("the error line does not say what failed: %v", l)
	}

	// Authentication itself fails.
	drop("user_sessions")
	res = gql(t, s.url, token, "Me", `query Me { me { username } }`, nil, nil)
	if res.status != http.StatusServiceUnavailable || res.code() != "INTERNAL_SERVER_ERROR" || strings.Contains(res.raw, "user_sessions") {
		t.Fatalf("answer when sessions cannot be read: %d %s", res.status, res.raw)
	}
	errorLine(res.header.Get("X-Request-Id"))
}

const createPackageMutation = `mutation AddPackage($name: String!) {
  createPackage(input: {name: $name, days: 30, contents: [{name: "gather", featureKey: "moe_gatherer"}, {name: "sync", featureKey: "cloud_sync"}]}) { id }
}`

// packageContents lists every package's name with its number of contents.
func packageContents(t *testing.T, url, token string) map[string]int {
	t.Helper()
	out := map[string]int{}
	var after any
	for {
		res := gql(t, url, token, "All", `query All($after: Cursor) {
  packages(first: 100, after: $after) { edges { node { name contents { feature { key } } } } pageInfo { hasNextPage endCursor } }
}`, map[string]any{"after": after}, nil)
		if len(res.Errors) > 0 {
			t.Fatalf("packages: %s", res.raw)
		}
		var d struct {
			Packages struct {
				Edges []struct {
					Node struct {
						Name     string
						Contents []struct{ Feature struct{ Key string } }
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		b, _ := json.Marshal(res.Data)
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, e := range d.Packages.Edges {
			out[e.Node.Name] = len(e.Node.Contents)
		}
		if !d.Packages.PageInfo.HasNextPage {
			return out
		}
		after = d.Packages.PageInfo.EndCursor
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestBackupWhileWritingThenServeFromIt backs up a live SQLite database
// while a client keeps writing, then starts a server on the copy.
func TestBackupWhileWritingThenServeFromIt(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("gatehouse backup copies SQLite databases; PostgreSQL uses pg_dump (TestBackupOnPostgresExplainsPgDump)")
	}
	dir := t.TempDir()
	live := filepath.Join(dir, "live", "gatehouse.db")
	copyPath := filepath.Join(dir, "backups", "gatehouse-copy.db")
	if err := os.MkdirAll(filepath.Dir(copyPath), 0o700); err != nil {
		t.Fatal(err)
	}
	m := baseEnv(nil)
	mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", live)
	s := startServe(t, m, "--db", live)
	token, _ := login(t, s.url, "root", "root-password-1")
	for _, key := range []string{"moe_gatherer", "cloud_sync"} {
		res := gql(t, s.url, token, "AddFeature", `mutation AddFeature($k: String!) { createFeature(input: {key: $k, name: $k, kind: SWITCH}) { id } }`, map[string]any{"k": key}, nil)
		if len(res.Errors) > 0 {
			t.Fatalf("create feature %s: %s", key, res.raw)
		}
	}

	// The writer creates pkg-0000, pkg-0001, ... one after the other, each
	// package with two contents in one transaction.
	var started, finished atomic.Int64
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				werr <- nil
				return
			default:
			}
			started.Store(int64(i + 1))
			res, err := doGQL(s.url, token, "AddPackage", createPackageMutation, map[string]any{"name": fmt.Sprintf("pkg-%04d", i)}, nil)
			if err == nil && len(res.Errors) > 0 {
				err = errors.New(res.raw)
			}
			if err != nil {
				werr <- err
				return
			}
			finished.Store(int64(i + 1))
		}
	}()
	waitFor := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for finished.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the writer finished only %d packages", finished.Load())
			}
			select {
			case err := <-werr:
				t.Fatalf("writer: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitFor(5)
	before := finished.Load()
	r := mustCLI(t, m, "", "backup", "--db", live, copyPath)
	during := started.Load()
	if !strings.Contains(r.stdout, "backed up "+live+" to "+copyPath) {
		t.Errorf("backup said %q", r.stdout)
	}
	waitFor(during + 5) // writes go on after the backup
	close(stop)
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	total := finished.Load()

	fi, err := os.Stat(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the copy has mode %v; it holds password hashes and should be 0600", fi.Mode().Perm())
	}
	hash := fileHash(t, copyPath)

	// Backing up again onto the copy is refused and leaves it alone.
	r = cli(t, m, "", "backup", "--db", live, copyPath)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("backup onto an existing file: %+v", r)
	}
	if fileHash(t, copyPath) != hash {
		t.Fatal("a refused backup changed the existing file")
	}
	if r = cli(t, m, "", "backup", "--db", live, filepath.Join(dir, "no-such-dir", "x.db")); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("backup into a missing directory: %+v", r)
	}
	entries, _ := os.ReadDir(filepath.Dir(copyPath))
	if len(entries) != 1 {
		t.Errorf("the backup directory holds %d files, want only the copy: %v", len(entries), entries)
	}

	// The live server has every package.
	if got := packageContents(t, s.url, token); int64(len(got)) != total {
		t.Errorf("the live database has %d packages, want %d", len(got), total)
	}

	// Restore: serve the copy. It holds a consistent prefix of the writes:
	// every package finished before the backup began, none started after
	// it ended, and every package complete with its two contents.
	// The copy holds the signing keys sealed; their secret is kept apart
	// (not in the backup) and put back beside the restored database.
	if !testdb.Postgres() {
		secret, err := os.ReadFile(live + ".signing-secret")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyPath+".signing-secret", secret, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	restored := startServe(t, m, "--db", copyPath)
	if code, _ := httpGet(t, restored.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz on the restored copy = %d", code)
	}
	rtoken, _ := login(t, restored.url, "root", "root-password-1")
	got := packageContents(t, restored.url, rtoken)
	n := int64(len(got))
	if n < before || n > during {
		t.Errorf("the copy holds %d packages; want between %d (finished before the backup) and %d (started before it ended)", n, before, during)
	}
	names := make([]string, 0, len(got))
	for name, contents := range got {
		names = append(names, name)
		if contents != 2 {
			t.Errorf("package %s has %d contents in the copy, want 2", name, contents)
		}
	}
	sort.Strings(names)
	for i, name := range names {
		if want := fmt.Sprintf("pkg-%04d", i); name != want {
			t.Fatalf("the copy's packages are not a prefix of the writes: #%d is %s, want %s", i, name, want)
		}
	}
	if strings.Contains(restored.logs.String(), "created the first admin") {
		t.Error("the restored copy had no admin")
	}
}

func TestBackupOnPostgresExplainsPgDump(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "gatehouse.dump")
	// Not reachable: the explanation needs no connection.
	r := cli(t, baseEnv(nil), "", "backup", "--db", "postgres://gate:Pg-Secret-1@db.internal:5433/gatehouse?sslmode=require", out)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %+v", r.code, r)
	}
	msg := lastLine(r.stderr)
	for _, want := range []string{"gatehouse backup: ", "pg_dump", "--host=db.internal", "--port=5433", "--username=gate", "--dbname=gatehouse", "--file=" + out, "pg_restore"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(r.stderr, "Pg-Secret-1") {
		t.Errorf("the message shows the password: %s", r.stderr)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("the message is not one line: %q", r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a file was written")
	}
	if testdb.Postgres() {
		// And against the real test server, through the config.
		dsn := testDSN(t)
		r = cli(t, baseEnv(map[string]string{"GATEHOUSE_DATABASE_DSN": dsn}), "", "backup", out)
		if r.code != 1 || !strings.Contains(r.stderr, "pg_dump") {
			t.Errorf("backup of the test PostgreSQL database: %+v", r)
		}
	}
}

// process is a gatehouse binary running as a child process.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	url  string
	done chan struct{} // closed when the process has ended
}

// startProcess starts the binary with exactly the environment envv and
// waits until it listens.
func startProcess(t *testing.T, bin, dir string, envv []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = envv
	p.cmd.Dir = dir
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		if u := listenURL(p.logs.String()); u != "" {
			p.url = u
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("gatehouse exited (%v) before listening:\n%s", p.cmd.ProcessState, p.logs.String())
		case <-deadline:
			t.Fatalf("gatehouse did not listen:\n%s", p.logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// wait waits for the process to end and returns its wait status.
func (p *process) wait(t *testing.T) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("gatehouse did not exit:\n%s", p.logs.String())
	}
	return p.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// waitRefused waits until the server no longer accepts connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowLogin opens a connection and sends a login request's headers with
// "Expect: 100-continue", then waits for "100 Continue": from then on the
// request is in a handler that is reading its body, which the caller sends
// (or not) later.
func slowLogin(t *testing.T, addr, username, password string) (net.Conn, *bufio.Reader, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": loginMutation, "operationName": "SignIn", "variables": map[string]any{"u": username, "p": password}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q %v", status, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, br, body
}

func processEnv(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// TestSIGTERMDrainsRequestsInFlight runs the real binary: after SIGTERM it
// refuses new connections but finishes a request already in flight (whose
// body arrives only after the shutdown began), then exits 0.
func TestSIGTERMDrainsRequestsInFlight(t *testing.T) {
	bin := gatehouseBinary(t)
	dsn := testDSN(t)
	m := baseEnv(nil)
	mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
	p := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
	addr := strings.TrimPrefix(p.url, "http://")

	c, br, body := slowLogin(t, addr, "root", "root-password-1")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, addr)
	if _, err := c.Write(body); err != nil {
		t.Fatalf("sending the rest of the request: %v", err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(raw, []byte(`"token":"gate_`)) {
		t.Fatalf("the request in flight: %d %s", res.StatusCode, raw)
	}
	ws := p.wait(t)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("gatehouse ended with %v, want exit 0:\n%s", ws, p.logs.String())
	}
	logs := p.logs.String()
	for _, want := range []string{"shutting down", `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestShutdownGraceCutsOffStuckRequests: a request still running when
// server.shutdown_grace ends is cut off and the exit status says so; a
// second SIGTERM ends the process at once.
func TestShutdownGraceCutsOffStuckRequests(t *testing.T) {
	bin := gatehouseBinary(t)
	dsn := testDSN(t)
	mustCLI(t, baseEnv(nil), "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)

	t.Run("grace period ends", func(t *testing.T) {
		m := baseEnv(map[string]string{"GATEHOUSE_SERVER_SHUTDOWN_GRACE": "500ms"})
		p := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
		addr := strings.TrimPrefix(p.url, "http://")
		c, br, _ := slowLogin(t, addr, "root", "root-password-1")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		ws := p.wait(t)
		if !ws.Exited() || ws.ExitStatus() != 1 {
			t.Fatalf("gatehouse ended with %v, want exit 1:\n%s", ws, p.logs.String())
		}
		if msg := lastLine(p.logs.String()); !strings.Contains(msg, "server.shutdown_grace") {
			t.Errorf("last line %q does not explain the cut-off", msg)
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Error("the stuck request's connection was not closed")
		}
	})

	t.Run("second SIGTERM", func(t *testing.T) {
		m := baseEnv(map[string]string{"GATEHOUSE_SERVER_SHUTDOWN_GRACE": "10m"})
		p := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
		addr := strings.TrimPrefix(p.url, "http://")
		slowLogin(t, addr, "root", "root-password-1")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitRefused(t, addr)
		// Draining would take 10 minutes; a second signal ends it now.
		deadline := time.After(30 * time.Second)
	signal:
		for {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
				break signal
			case <-deadline:
				t.Fatalf("a second SIGTERM did not end gatehouse:\n%s", p.logs.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		ws := p.wait(t)
		if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Fatalf("gatehouse ended with %v, want killed by the second SIGTERM", ws)
		}
	})
}
