package server_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/testfs"
)

const createPackage = `mutation($n: String!, $d: String) { createPackage(input: {name: $n, detail: $d, days: 30}) { id } }`

// writesFail starts a server whose database a fault will stop from
// taking writes; it returns the server and an admin's token.
func writesFail(t *testing.T) (*apptest.Server, string) {
	t.Helper()
	return writesFailOn(t, testdb.Open(t))
}

// writesFailOn is writesFail over an open, migrated database.
func writesFailOn(t *testing.T, d *db.DB) (*apptest.Server, string) {
	t.Helper()
	s := apptest.StartOn(t, d, nil, app.Options{})
	s.App.DB.SetWriteCheckInterval(0) // check on every request
	s.CreateUser("root", "root-password-1", user.RoleADMIN)
	tok := s.Login("root", "root-password-1")
	if code, body, _ := get(t, s.URL+"/readyz", nil); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz before the fault = %d %q", code, body)
	}
	return s, tok
}

// faultShows checks that /readyz says the database cannot take writes for
// reason, and that a write through the API fails with a bare
// INTERNAL_SERVER_ERROR while the log names the cause.
func faultShows(t *testing.T, s *apptest.Server, tok, reason, logged string) {
	t.Helper()
	code, body, _ := get(t, s.URL+"/readyz", nil)
	if code != http.StatusServiceUnavailable || body != "database cannot take writes: "+reason+"\n" {
		t.Fatalf("/readyz with the fault = %d %q, want 503 with %q", code, body, reason)
	}
	if code, _, _ := get(t, s.URL+"/healthz", nil); code != 200 {
		t.Errorf("/healthz with the fault = %d", code)
	}
	// Writes fail once the database is really out of room: the first
	// packages may still fit in pages already there.
	detail := strings.Repeat("d", 2000)
	for i := 0; ; i++ {
		r := s.Do(tok, createPackage, map[string]any{"n": fmt.Sprintf("pkg-%d", i), "d": detail})
		if len(r.Errors) == 0 {
			if i == 200 {
				t.Fatal("200 packages were written despite the fault")
			}
			continue
		}
		if r.Code() != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != "internal server error" {
			t.Fatalf("a write with the fault answered %+v", r.Errors)
		}
		break
	}
	logs := s.Logs.String()
	if !strings.Contains(logs, logged) {
		t.Errorf("the log does not name the cause %q:\n%s", logged, logs)
	}
	if !strings.Contains(logs, "reason="+quoteIfNeeded(reason)) {
		t.Errorf("the log does not give the readiness reason %q:\n%s", reason, logs)
	}
}

// fillUp fills the file system holding dir and returns the filler file.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			// The last bytes, a block at a time.
			for {
				if _, err := f.Write(block[:512]); err != nil {
					return p
				}
			}
		}
	}
}

func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " ()") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// recovered checks that /readyz and writes work again.
func recovered(t *testing.T, s *apptest.Server, tok string) {
	t.Helper()
	if code, body, _ := get(t, s.URL+"/readyz", nil); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz after the fault = %d %q", code, body)
	}
	s.MustDo(tok, createPackage, map[string]any{"n": "after-the-fault", "d": "x"})
	if !strings.Contains(s.Logs.String(), "the database takes writes again") {
		t.Errorf("the recovery was not logged:\n%s", s.Logs.String())
	}
}

func exec(t *testing.T, d *sql.DB, q string) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestReadyzWhenWritesFail makes the database refuse writes for real.
// The in-memory SQLite test database has a single connection, so a
// PRAGMA applies to every request.
func TestReadyzWhenWritesFail(t *testing.T) {
	t.Run("sqlite read-only", func(t *testing.T) {
		if testdb.Postgres() {
			t.Skip("SQLite only")
		}
		s, tok := writesFail(t)
		exec(t, s.App.DB.SQL, "PRAGMA query_only = ON")
		faultShows(t, s, tok, "read-only", "attempt to write a readonly database")
		exec(t, s.App.DB.SQL, "PRAGMA query_only = OFF")
		recovered(t, s, tok)
	})
	t.Run("sqlite full", func(t *testing.T) {
		if testdb.Postgres() {
			t.Skip("SQLite only")
		}
		s, tok := writesFail(t)
		// The limit cannot go below the current size: it becomes that.
		exec(t, s.App.DB.SQL, "PRAGMA max_page_count = 1")
		faultShows(t, s, tok, "database full (max_page_count reached)", "database or disk is full")
		exec(t, s.App.DB.SQL, "PRAGMA max_page_count = 4294967294")
		recovered(t, s, tok)
	})
	t.Run("sqlite file on a full disk", func(t *testing.T) {
		if testdb.Postgres() {
			t.Skip("SQLite only")
		}
		dir := testfs.Tmpfs(t, "2m")
		d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: filepath.Join(dir, "gatehouse.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if err := d.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s, tok := writesFailOn(t, d)
		filler := fillUp(t, dir)
		faultShows(t, s, tok, "disk full", "database or disk is full")
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		recovered(t, s, tok)
	})
	t.Run("postgres read-only", func(t *testing.T) {
		if !testdb.Postgres() {
			t.Skip("PostgreSQL only: set " + testdb.EnvPostgres)
		}
		s, tok := writesFail(t)
		admin, err := sql.Open("pgx", os.Getenv(testdb.EnvPostgres))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		name := s.App.DB.Pool.Config().ConnConfig.Database
		exec(t, admin, "ALTER DATABASE "+name+" SET default_transaction_read_only = on")
		s.App.DB.Pool.Reset() // new connections are read-only
		faultShows(t, s, tok, "read-only", "read-only transaction")
		exec(t, admin, "ALTER DATABASE "+name+" RESET default_transaction_read_only")
		s.App.DB.Pool.Reset()
		recovered(t, s, tok)
	})
}

// TestReadyzReusesItsVerdict: /readyz writes to the database at most once
// per interval, however often it is asked.
func TestReadyzReusesItsVerdict(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.App.DB.SetWriteCheckInterval(1 << 62) // never again within the test
	written := func() int64 {
		var at int64
		if err := s.App.DB.SQL.QueryRow("SELECT written_at FROM gatehouse_write_probe WHERE id = 1").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if at := written(); at != 0 {
		t.Fatalf("the probe row was written before any check: %d", at)
	}
	for i := 0; i < 20; i++ {
		if code, body, _ := get(t, s.URL+"/readyz", nil); code != 200 {
			t.Fatalf("/readyz = %d %q", code, body)
		}
	}
	first := written()
	if first == 0 {
		t.Fatal("/readyz did not write the probe row")
	}
	for i := 0; i < 20; i++ {
		get(t, s.URL+"/readyz", nil)
	}
	if at := written(); at != first {
		t.Errorf("/readyz wrote again within its interval")
	}
}
