package db_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/db"
)

// TestBackgroundCheckpoint: what a write commits reaches the database file
// itself (not only its write-ahead log) without any further write, and
// long before the writer's own checkpoint threshold: the background
// checkpoint copied it.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	d, err := db.Open(ctx, db.Options{Driver: db.SQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.SQL.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := d.SQL.ExecContext(ctx, "INSERT INTO t (v) VALUES ('row')"); err != nil {
			t.Fatal(err)
		}
	}
	// immutable=1 reads the database file alone, ignoring the log.
	file, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.SetMaxOpenConns(1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := file.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n)
		if err == nil && n == 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d rows (err %v), want 100: nothing checkpointed the log", n, err)
		}
		// A fresh connection each time: an immutable one caches pages.
		file.SetMaxIdleConns(0)
		time.Sleep(50 * time.Millisecond)
	}
}
