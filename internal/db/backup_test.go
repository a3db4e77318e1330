package db_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

func openSQLiteFile(t *testing.T, path string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestBackupSQLiteWhileWriting(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("VACUUM INTO: SQLite only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	d := openSQLiteFile(t, filepath.Join(dir, "live.db"))
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL.Exec(`CREATE TABLE pairs (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// Each transaction adds two rows: a consistent copy holds an even
	// number.
	var done atomic.Int64
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
			tx, err := d.SQL.Begin()
			if err == nil {
				_, err = tx.Exec(`INSERT INTO pairs (n) VALUES (?), (?)`, i, i)
				if err == nil {
					err = tx.Commit()
				} else {
					tx.Rollback()
				}
			}
			if err != nil {
				werr <- err
				return
			}
			done.Add(1)
		}
	}()
	for done.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	copies := []string{filepath.Join(dir, "copy-1.db"), filepath.Join(dir, "file:copy ?x=1 #2.db")}
	for _, p := range copies {
		if err := d.Backup(ctx, p); err != nil {
			t.Fatalf("backup to %q: %v", p, err)
		}
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}

	for _, p := range copies {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("copy %q: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("copy %q has mode %v, want 0600", p, fi.Mode().Perm())
		}
		// Opened as a URI: db.Open would read the '?' in the name as the
		// start of options.
		c := openSQLiteFile(t, "file:"+(&url.URL{Path: p}).EscapedPath())
		var n, distinct int
		if err := c.SQL.QueryRow(`SELECT count(*), count(DISTINCT n) FROM pairs`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		if n == 0 || n%2 != 0 || distinct*2 != n {
			t.Errorf("copy %q holds %d rows (%d distinct): not a consistent snapshot", p, n, distinct)
		}
		var check string
		if err := c.SQL.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("copy %q integrity: %q %v", p, check, err)
		}
		if err := c.CheckSchema(ctx); err != nil {
			t.Errorf("copy %q: %v", p, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("VACUUM INTO: SQLite only")
	}
	ctx := context.Background()
	dir := t.TempDir()
	d := openSQLiteFile(t, filepath.Join(dir, "live.db"))
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"existing file", existing, "already exists"},
		{"existing empty file", empty, "already exists"},
		{"the live database itself", filepath.Join(dir, "live.db"), "already exists"},
		{"missing directory", filepath.Join(dir, "nope", "copy.db"), "does not exist"},
		{"no path", "", "no backup file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Backup(ctx, tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Backup(%q) = %v, want an error containing %q", tt.path, err, tt.want)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("a refused backup changed the existing file: %q", b)
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Error("a refused backup wrote into the empty file")
	}
}

func TestBackupInMemory(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("SQLite only")
	}
	ctx := context.Background()
	d := testdb.Open(t) // in-memory, migrated
	p := filepath.Join(t.TempDir(), "copy.db")
	if err := d.Backup(ctx, p); err != nil {
		t.Fatal(err)
	}
	c := openSQLiteFile(t, p)
	if err := c.CheckSchema(ctx); err != nil {
		t.Fatalf("copy of an in-memory database: %v", err)
	}
}

func TestBackupPostgresExplainsPgDump(t *testing.T) {
	tests := []struct {
		name, dsn string
		want      []string
	}{
		{"URL with password", "postgres://gate:Secret-Pw@db.internal:5433/gatehouse?sslmode=require",
			[]string{"--host=db.internal", "--port=5433", "--username=gate", "--dbname=gatehouse"}},
		{"key=value with password", "host=db.internal user=gate password=Secret-Pw dbname=gatehouse",
			[]string{"--host=db.internal", "--username=gate", "--dbname=gatehouse"}},
		{"unparsable", "postgres://[bad", []string{"--dbname=DATABASE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.PostgresBackupError(tt.dsn, "/backups/gate house.dump")
			if !errors.Is(err, db.ErrPostgresBackup) {
				t.Fatalf("error %v does not wrap ErrPostgresBackup", err)
			}
			msg := err.Error()
			for _, w := range append(tt.want, "pg_dump --format=custom", "--file='/backups/gate house.dump'", "pg_restore") {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "Secret-Pw") || strings.Contains(msg, "\n") {
				t.Errorf("message shows the password or spans lines: %q", msg)
			}
		})
	}

	if !testdb.Postgres() {
		return
	}
	t.Run("an open PostgreSQL database", func(t *testing.T) {
		d := testdb.Open(t)
		out := filepath.Join(t.TempDir(), "x.dump")
		err := d.Backup(context.Background(), out)
		if !errors.Is(err, db.ErrPostgresBackup) || !strings.Contains(err.Error(), "--dbname=gh_test_") {
			t.Fatalf("Backup on PostgreSQL: %v", err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Error("a file was written")
		}
	})
}

func TestSQLiteFile(t *testing.T) {
	for in, want := range map[string]string{
		"data/gatehouse.db":                        "data/gatehouse.db",
		"file:data/gatehouse.db?_busy_timeout=100": "data/gatehouse.db",
		":memory:":                        "",
		"file:x?mode=memory&cache=shared": "",
	} {
		if got := db.SQLiteFile(in); got != want {
			t.Errorf("SQLiteFile(%q) = %q, want %q", in, got, want)
		}
	}
}
