// Package testdb gives each test a fresh, migrated database: in-memory
// SQLite always, or a new PostgreSQL database of its own when
// GATEHOUSE_TEST_POSTGRES holds a DSN (run the suite once each way).
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"gatehouse/internal/db"
)

// EnvPostgres names the variable holding an admin DSN of a PostgreSQL
// server for tests, e.g. postgres://postgres@127.0.0.1:5432/test.
const EnvPostgres = "GATEHOUSE_TEST_POSTGRES"

// Options returns the database options for a fresh database for t, and
// arranges its removal when t ends.
func Options(t testing.TB) db.Options {
	t.Helper()
	if dsn := os.Getenv(EnvPostgres); dsn != "" {
		return db.Options{Driver: db.Postgres, DSN: freshPostgres(t, dsn), MaxOpenConns: 5}
	}
	return db.Options{Driver: db.SQLite, DSN: ":memory:"}
}

// Open returns a fresh migrated database for t, closed when t ends.
func Open(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), Options(t))
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return d
}

// Postgres reports whether tests run against PostgreSQL.
func Postgres() bool { return os.Getenv(EnvPostgres) != "" }

// freshPostgres creates a database named for the test and returns its DSN.
func freshPostgres(t testing.TB, adminDSN string) string {
	t.Helper()
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gh_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("postgres: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, adminDSN, name)
}

// withDatabase points a DSN (URL or key=value) at another database.
func withDatabase(t testing.TB, dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("postgres dsn: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// Strings runs a query whose rows hold one string each and returns them,
// failing t on any error.
func Strings(t testing.TB, sdb *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := sdb.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
