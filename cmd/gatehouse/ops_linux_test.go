package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gatehouse/internal/testdb"
)

// TestServeOnAReadOnlyFileSystem: on a file system mounted read-only (a
// tmpfs the test mounts as root), serve names the directory it cannot
// write instead of SQLite's "no such file or directory".
func TestServeOnAReadOnlyFileSystem(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting a file system needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a file system: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	for _, tt := range []struct{ db, want string }{
		{filepath.Join(dir, "data", "gatehouse.db"), "the database directory " + filepath.Join(dir, "data") + " is not writable (read-only file system)"},
		{filepath.Join(dir, "new", "gatehouse.db"), "cannot create the database directory " + filepath.Join(dir, "new") + ": " + dir + " is not writable (read-only file system)"},
	} {
		r := runBinary(t, t.TempDir(), baseEnv(nil), nil, "serve", "--listen", "127.0.0.1:0", "--db", tt.db)
		if msg := lastLine(r.stderr); r.code != 1 || !strings.Contains(msg, tt.want) {
			t.Errorf("serve --db %s: exit %d, message %q; want 1 and %q", tt.db, r.code, msg, tt.want)
		}
	}
}
