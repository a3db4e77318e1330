//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gatehouse/internal/testdb"
)

// TestServeWhereItCannotWrite: a database in a directory the server may
// not write is refused with a message naming the directory (not SQLite's
// "no such file or directory"). As root, whom permissions do not stop,
// the binary runs as nobody (65534).
func TestServeWhereItCannotWrite(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	var asNobody func(*exec.Cmd)
	if os.Geteuid() == 0 {
		asNobody = func(c *exec.Cmd) {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
	}
	base := t.TempDir()
	// Let the other user reach the test's directory.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(ro, "old.db")
	if err := os.WriteFile(existing, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(existing, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if asNobody == nil {
		// An unprivileged user may still be able to write it (a
		// capability); then the condition cannot be made.
		if f, err := os.CreateTemp(ro, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("cannot make a directory this user may not write")
		}
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"the default database in a directory it cannot write", nil,
			"cannot create the database directory " + filepath.Join(ro, "data") + ": " + ro + " is not writable (permission denied)"},
		{"a new database file", []string{"--db", filepath.Join(ro, "new.db")},
			"the database directory " + ro + " is not writable (permission denied)"},
		{"an existing database file", []string{"--db", existing},
			"the database directory " + ro + " is not writable (permission denied)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, ro, baseEnv(nil), asNobody, append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)...)
			msg := lastLine(r.stderr)
			if r.code != 1 || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "make the directory writable") {
				t.Errorf("exit %d, message %q; want 1 and %q", r.code, msg, tt.want)
			}
			if strings.Contains(msg, "no such file or directory") {
				t.Errorf("message %q blames a missing file", msg)
			}
		})
	}
	if got := entries(t, ro); len(got) != 1 {
		t.Errorf("the runs created files: %v", got)
	}
}
