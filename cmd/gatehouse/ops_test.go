package main

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testdb"
)

// binResult is what one run of the binary did.
type binResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs the gatehouse binary to its end in dir with exactly the
// environment m; adjust, when non-nil, changes the command first (to run
// it as another user, say).
func runBinary(t *testing.T, dir string, m map[string]string, adjust func(*exec.Cmd), args ...string) binResult {
	t.Helper()
	// A run that wrongly starts serving is stopped after a minute.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatehouseBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = processEnv(m)
	if adjust != nil {
		adjust(cmd)
	}
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return binResult{0, out.String(), errb.String()}
	case errors.As(err, &ee) && ee.Exited():
		return binResult{ee.ExitCode(), out.String(), errb.String()}
	}
	t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	return binResult{}
}

// entries lists what dir holds.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestUnsupportedDSNSchemes: a DSN that is a URL of another kind is
// refused with exit status 2, whether it comes from --db, the environment
// or the config file, and nothing is created on disk.
func TestUnsupportedDSNSchemes(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string // config file content, passed with --config
		args []string
		want string
	}{
		{name: "migrate --db mysql", args: []string{"migrate", "--db", "mysql://root:s3cret@db/x"}, want: `"mysql://" is not supported`},
		{name: "serve --db misspelt postgres", args: []string{"serve", "--db", "postgress://u:s3cret@host/x"},
			want: `"postgress://" is not supported (did you mean postgres://?)`},
		{name: "user disable --db sqlite URL", args: []string{"user", "disable", "--username", "a", "--db", "sqlite://s3cret/x.db"},
			want: `"sqlite://" is not supported`},
		{name: "GATEHOUSE_DATABASE_DSN", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "mysql://root:s3cret@db/x"},
			args: []string{"migrate"}, want: "GATEHOUSE_DATABASE_DSN"},
		{name: "config file", file: "[database]\ndsn = \"postgress://u:s3cret@host/x\"\n",
			args: []string{"serve"}, want: "c.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tt.args
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "c.toml"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", "c.toml")
			}
			r := runBinary(t, dir, baseEnv(tt.env), nil, args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			msg := lastLine(r.stderr)
			for _, w := range []string{"database.dsn", "is not supported", "postgres://", tt.want} {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Errorf("the password was printed:\n%s%s", r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "schema is up to date") {
				t.Errorf("migrate claims success: %s", r.stdout)
			}
			if got := entries(t, dir); len(got) > 1 || len(got) == 1 && got[0] != "c.toml" {
				t.Errorf("the run created %v", got)
			}
		})
	}
}

// TestUnknownEnvironmentVariableStopsTheStart: a misspelt GATEHOUSE_*
// variable stops serve before anything happens, naming the closest known
// one; the test suite's own variables do not.
func TestUnknownEnvironmentVariableStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, baseEnv(map[string]string{"GATEHOUSE_SERVER_LISTN": "127.0.0.1:0"}), nil, "serve")
	want := "unknown environment variable GATEHOUSE_SERVER_LISTN; did you mean GATEHOUSE_SERVER_LISTEN?"
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), want) {
		t.Errorf("exit %d, want 1 with %q\nstderr: %s", r.code, want, r.stderr)
	}
	if got := entries(t, dir); len(got) > 0 {
		t.Errorf("the run created %v", got)
	}
	r = runBinary(t, dir, baseEnv(map[string]string{testdb.EnvPostgres: "postgres://postgres@127.0.0.1:1/x", "GATEHOUSE_CONFIG": ""}),
		nil, "config", "print")
	if r.code != 0 {
		t.Errorf("config print with %s set: exit %d\n%s", testdb.EnvPostgres, r.code, r.stderr)
	}
}

// usersTableExists reports whether serve got as far as migrating dsn.
func usersTableExists(t *testing.T, dsn string) bool {
	t.Helper()
	if !testdb.Postgres() {
		_, err := os.Stat(dsn)
		return err == nil
	}
	c, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var exists bool
	if err := c.QueryRow(`SELECT to_regclass('public.users') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// TestServeOnABusyPortCreatesNoAdmin: serve binds before it touches the
// database, so a port in use ends it with a clear message and without the
// first admin; the first serve that does listen announces the password,
// once.
func TestServeOnABusyPortCreatesNoAdmin(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	for i := 0; i < 2; i++ {
		r := runBinary(t, t.TempDir(), m, nil, "serve", "--listen", addr, "--db", dsn)
		msg := lastLine(r.stderr)
		if r.code != 1 || !strings.Contains(msg, "cannot listen on "+addr+": address already in use") || !strings.Contains(msg, "--listen") {
			t.Fatalf("serve on a busy port: exit %d, message %q", r.code, msg)
		}
		if strings.Contains(r.stdout+r.stderr, "password") {
			t.Fatalf("serve on a busy port announced a password:\n%s", r.stderr)
		}
		if usersTableExists(t, dsn) {
			t.Fatal("serve on a busy port went on to the database")
		}
	}

	passwords := func(logs string) int {
		n := 0
		for _, l := range logLines(t, logs) {
			if _, ok := l["password"]; ok {
				n++
			}
		}
		return n
	}
	for i, want := range []int{1, 0} {
		p := startProcess(t, gatehouseBinary(t), t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if ws := p.wait(t); ws.ExitStatus() != 0 {
			t.Fatalf("serve %d ended with %v:\n%s", i+1, ws, p.logs.String())
		}
		if n := passwords(p.logs.String()); n != want {
			t.Fatalf("serve %d on a free port logged %d passwords, want %d:\n%s", i+1, n, want, p.logs.String())
		}
	}
}
