package db_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// TestSQLiteFileModes: a new database, its -wal and -shm files are
// readable by their owner only (they hold password hashes), and its
// directory is 0750.
func TestSQLiteFileModes(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "gatehouse.db")
	d := openSQLiteFile(t, path)
	ctx := context.Background()
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if st := d.CheckWrites(ctx); st.Reason != "" {
		t.Fatalf("a new database cannot take writes: %s (%v)", st.Reason, st.Err)
	}
	if len(d.Warnings) > 0 {
		t.Errorf("warnings for a new database: %q", d.Warnings)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), m)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("the directory: %v %v, want mode 0750", fi.Mode(), err)
	}
}

// TestSQLiteWiderModesWarn: an existing database that others may read is
// used as it is, with a warning that names it.
func TestSQLiteWiderModesWarn(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	path := filepath.Join(t.TempDir(), "old.db")
	d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	d = openSQLiteFile(t, path)
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], path+" has mode 0644") || !strings.Contains(d.Warnings[0], "chmod 600") {
		t.Errorf("warnings = %q, want one about %s", d.Warnings, path)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("the mode was changed to %04o", fi.Mode().Perm())
	}
}

// TestSQLiteRefusesURLs: a URL that is not a file: URI is never taken for
// a path (which would create directories named after it).
func TestSQLiteRefusesURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{"mysql://root:s3cret@db/x", "postgress://u:s3cret@host/x", "sqlite:///x.db"} {
		_, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: dsn})
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %v, want an error without the password", dsn, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("Open created %v", ents)
	}
}

func TestCheckSchemaWantsTheWriteProbe(t *testing.T) {
	d := testdb.Open(t)
	ctx := context.Background()
	if _, err := d.SQL.ExecContext(ctx, "DROP TABLE gatehouse_write_probe"); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("a database without the write probe is reported as current")
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("after migrating again: %v", err)
	}
	if st := d.CheckWrites(ctx); st.Reason != "" {
		t.Fatalf("after migrating again: %s (%v)", st.Reason, st.Err)
	}
}
