package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/testdb"
	"gatehouse/internal/testfs"
)

// TestServeOnAReadOnlyFileSystem: on a file system mounted read-only (a
// tmpfs the test mounts as root), serve names the directory it cannot
// write instead of SQLite's "no such file or directory".
func TestServeOnAReadOnlyFileSystem(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	dir := testfs.Tmpfs(t, "1m")
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	testfs.ReadOnly(t, dir)
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
