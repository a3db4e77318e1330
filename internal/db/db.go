// Package db opens Gatehouse's database (embedded SQLite or PostgreSQL) with
// the right settings, migrates its schema and takes backups.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver

	"gatehouse/ent"
	_ "gatehouse/ent/runtime" // registers schema hooks and privacy policies
)

// Drivers Gatehouse can use.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options say which database to open and how.
type Options struct {
	Driver       string // SQLite or Postgres
	DSN          string // SQLite path, "file:..." or ":memory:"; PostgreSQL URL or key=value DSN
	MaxOpenConns int
	BusyTimeout  time.Duration // SQLite: how long a writer waits for the lock
}

// DB is an open database: one pool shared by ent and the dashboard's
// session store.
type DB struct {
	Driver string
	SQL    *sql.DB
	// Pool is the pgx pool behind SQL when Driver is Postgres, else nil.
	Pool *pgxpool.Pool
	Ent  *ent.Client
	// Warnings are problems found on opening that do not stop Gatehouse,
	// such as a SQLite file readable by other users, for the caller to log.
	Warnings []string

	writes writeCheck
}

// Close closes the client and its pool.
func (d *DB) Close() error {
	err := d.Ent.Close()
	if d.Pool != nil {
		d.Pool.Close()
	}
	return err
}

// Open opens the database and checks that it answers. It does not migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 10
	}
	switch o.Driver {
	case SQLite, "":
		return openSQLite(ctx, o)
	case Postgres:
		return openPostgres(ctx, o)
	default:
		return nil, fmt.Errorf("unknown database driver %q (want %q or %q)", o.Driver, SQLite, Postgres)
	}
}

func openSQLite(ctx context.Context, o Options) (*DB, error) {
	dsn, memory, err := sqliteDSN(o.DSN, o.BusyTimeout)
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	if memory {
		// One connection keeps one in-memory database alive and consistent.
		sdb.SetMaxOpenConns(1)
	} else {
		sdb.SetMaxOpenConns(o.MaxOpenConns)
	}
	sdb.SetMaxIdleConns(o.MaxOpenConns)
	sdb.SetConnMaxLifetime(0)
	if err := ping(ctx, sdb); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", o.DSN, err)
	}
	drv := queueWrites(entsql.OpenDB("sqlite3", sdb), o.BusyTimeout)
	return &DB{Driver: SQLite, SQL: sdb, Ent: ent.NewClient(ent.Driver(drv)), Warnings: sqliteModeWarnings(SQLiteFile(o.DSN))}, nil
}

var memoryDBs atomic.Int64

// urlScheme matches the scheme:// that starts a URL.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*://`)

// sqliteDSN turns a path into a go-sqlite3 DSN with foreign keys, WAL, a
// busy timeout and immediate write transactions. The directory of a file
// database is created (0750), and the file itself (0600, so that SQLite
// gives its -wal and -shm files the same mode) unless it exists.
func sqliteDSN(dsn string, busy time.Duration) (string, bool, error) {
	if busy <= 0 {
		busy = 5 * time.Second
	}
	if urlScheme.MatchString(dsn) && !strings.HasPrefix(dsn, "file:") {
		// Never a path: it would make a directory named after a host,
		// password included.
		return "", false, errors.New("the database DSN is a URL but not a postgres:// one; a SQLite database is a file path or a file: URI")
	}
	memory := dsn == ":memory:" || strings.Contains(dsn, "mode=memory")
	if dsn == ":memory:" {
		dsn = fmt.Sprintf("file:gatehouse-mem-%d?mode=memory&cache=shared", memoryDBs.Add(1))
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path == "" {
		return "", false, errors.New("empty sqlite database path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false, fmt.Errorf("sqlite dsn options: %w", err)
	}
	if m := q.Get("mode"); !memory && m != "ro" && m != "rw" {
		// (mode=ro and mode=rw ask SQLite not to create the file.)
		if err := prepareSQLiteFile(path); err != nil {
			return "", false, err
		}
	}
	setDefault := func(k, v string) {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	setDefault("_foreign_keys", "1")
	setDefault("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	setDefault("_txlock", "immediate")
	if !memory {
		setDefault("_journal_mode", "WAL")
		setDefault("_synchronous", "NORMAL")
	}
	return "file:" + path + "?" + q.Encode(), memory, nil
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	pc, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("invalid PostgreSQL DSN (expected postgres://user:pass@host:port/db or key=value pairs)")
	}
	pc.MaxConns = int32(o.MaxOpenConns)
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.MaxConnLifetime = time.Hour
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	if err := ping(ctx, sdb); err != nil {
		sdb.Close()
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", pc.ConnConfig.Host, err)
	}
	drv := entsql.OpenDB("postgres", sdb)
	return &DB{Driver: Postgres, SQL: sdb, Pool: pool, Ent: ent.NewClient(ent.Driver(drv))}, nil
}

func ping(ctx context.Context, sdb *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return sdb.PingContext(ctx)
}

// Ping reports whether the database answers (for readiness checks).
func (d *DB) Ping(ctx context.Context) error { return ping(ctx, d.SQL) }
