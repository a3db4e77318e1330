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
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
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

// DB is an open database.
//
// On a SQLite file, writes have a path of their own: SQL is the writer,
// one connection, on which every transaction and every statement that
// writes runs, each in its turn (see WriteTurn); Read is a pool of
// read-only connections for queries, which WAL lets run beside the
// writer. An in-memory SQLite database has one connection for both, and
// on PostgreSQL both are the one pgx pool.
type DB struct {
	Driver string
	// SQL is the writer: use it for anything that writes, in a turn.
	SQL *sql.DB
	// Read runs queries that do not write (it may be SQL itself).
	Read *sql.DB
	// Pool is the pgx pool behind SQL when Driver is Postgres, else nil.
	Pool *pgxpool.Pool
	Ent  *ent.Client
	// Warnings are problems found on opening that do not stop Gatehouse,
	// such as a SQLite file readable by other users, for the caller to log.
	Warnings []string

	writes writeCheck
	queue  *writeQueue // SQLite only
	drv    dialect.Driver
	ckpt   *checkpointer // a SQLite file only
	subj   *every        // SQLite only: the index of events by subject
}

// EntDriver is the driver under Ent: on SQLite the one that queues writes
// on the writer and sends queries to the readers. A client that wraps it
// (to count statements, say) keeps that behaviour.
func (d *DB) EntDriver() dialect.Driver { return d.drv }

// WriteTurn waits for this process's turn to write on SQLite (in arrival
// order, at most database.busy_timeout) and returns the function that
// ends it (safe to call more than once). A statement run on SQL outside
// ent takes a turn first, so that it does not wait in SQLite's busy
// handler or for the writer's connection. On PostgreSQL it returns at once.
func (d *DB) WriteTurn(ctx context.Context) (func(), error) {
	if d.queue == nil {
		return func() {}, nil
	}
	return d.queue.acquireAlone(ctx)
}

// SQLiteCommits tells, on SQLite, how many write transactions this process
// has committed and in how many COMMITs (write transactions that queue
// share one); ok is false on PostgreSQL.
func (d *DB) SQLiteCommits() (writes, commits int64, ok bool) {
	if d.queue == nil {
		return 0, 0, false
	}
	return d.queue.committedWrites.Load(), d.queue.commits.Load(), true
}

// Close closes the client and its pools.
func (d *DB) Close() error {
	if d.subj != nil {
		d.subj.Close()
	}
	if d.ckpt != nil {
		_ = d.ckpt.Close()
	}
	err := d.Ent.Close()
	if d.Pool != nil {
		d.Pool.Close()
	}
	return err
}

// DefaultMaxOpenConns is the pool size used when none is set: on SQLite,
// the read-only readers beside the writer, two per CPU Go uses and at
// least 4 (SQLite's reads are CPU work in the server's process, and more
// readers than that only hold more pages and more answers in memory at
// once: on 2 CPUs, 4 readers served the admin's list of users as fast as
// 10, with half the p99 and 25% less peak memory); on PostgreSQL, 10.
func DefaultMaxOpenConns(driver string) int {
	if driver == Postgres {
		return 10
	}
	return max(4, 2*runtime.GOMAXPROCS(0))
}

// Open opens the database and checks that it answers. It does not migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns(o.Driver)
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

// openSQLite opens the writer, one connection (which also makes the file
// a WAL database), then, for a file, the pool of read-only connections.
// One connection keeps an in-memory database alive and consistent, so it
// serves reads too.
func openSQLite(ctx context.Context, o Options) (*DB, error) {
	dsn, readDSN, err := sqliteDSN(o.DSN, o.BusyTimeout)
	if err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := ping(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", o.DSN, err)
	}
	r := w
	var ckpt *checkpointer
	if readDSN != "" {
		// A file: checkpoints run in the background (see checkpoint.go).
		if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerAutoCheckpoint)); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite database %s: %w", o.DSN, err)
		}
		if ckpt, err = startCheckpointer(ctx, dsn, checkpointEvery); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite database %s for checkpoints: %w", o.DSN, err)
		}
	}
	if readDSN != "" {
		if r, err = sql.Open("sqlite3", readDSN); err != nil {
			ckpt.Close()
			w.Close()
			return nil, fmt.Errorf("open sqlite database: %w", err)
		}
		r.SetMaxOpenConns(o.MaxOpenConns)
		r.SetMaxIdleConns(o.MaxOpenConns)
		r.SetConnMaxLifetime(0)
		if err := ping(ctx, r); err != nil {
			r.Close()
			ckpt.Close()
			w.Close()
			return nil, fmt.Errorf("open sqlite database %s for reading: %w", o.DSN, err)
		}
	}
	wd := entsql.OpenDB("sqlite3", w)
	rd := wd
	if r != w {
		rd = entsql.OpenDB("sqlite3", r)
	}
	q := queueWrites(wd, rd, o.BusyTimeout)
	d := &DB{
		Driver: SQLite, SQL: w, Read: r, Ent: ent.NewClient(ent.Driver(q)), queue: q, drv: q, ckpt: ckpt,
		Warnings: sqliteModeWarnings(SQLiteFile(o.DSN)),
	}
	d.subj = startSubjectIndexer(d, eventSubjectsEvery)
	return d, nil
}

var memoryDBs atomic.Int64

// urlScheme matches the scheme:// that starts a URL.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*://`)

// sqliteDSN turns a path into a go-sqlite3 DSN for the writer, with
// foreign keys, WAL, a busy timeout and immediate transactions, and for a
// file database a DSN for readers (read-only, deferred transactions; ""
// for an in-memory database). The directory of a file database is created
// (0750), and the file itself (0600, so that SQLite gives its -wal and
// -shm files the same mode) unless it exists.
func sqliteDSN(dsn string, busy time.Duration) (write, read string, err error) {
	if busy <= 0 {
		busy = 5 * time.Second
	}
	if urlScheme.MatchString(dsn) && !strings.HasPrefix(dsn, "file:") {
		// Never a path: it would make a directory named after a host,
		// password included.
		return "", "", errors.New("the database DSN is a URL but not a postgres:// one; a SQLite database is a file path or a file: URI")
	}
	memory := dsn == ":memory:" || strings.Contains(dsn, "mode=memory")
	if dsn == ":memory:" {
		dsn = fmt.Sprintf("file:gatehouse-mem-%d?mode=memory&cache=shared", memoryDBs.Add(1))
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path == "" {
		return "", "", errors.New("empty sqlite database path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlite dsn options: %w", err)
	}
	if m := q.Get("mode"); !memory && m != "ro" && m != "rw" {
		// (mode=ro and mode=rw ask SQLite not to create the file.)
		if err := prepareSQLiteFile(path); err != nil {
			return "", "", err
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
	// Each connection keeps its most recent prepared statements: ent
	// sends the same few statements over and over.
	setDefault("_stmt_cache_size", "64")
	if memory {
		return "file:" + path + "?" + q.Encode(), "", nil
	}
	r := url.Values{}
	for k, v := range q {
		r[k] = v
	}
	setDefault("_journal_mode", "WAL")
	setDefault("_synchronous", "NORMAL")
	// Readers: SQLite opens the file read-only, so that nothing run on
	// them can write; a transaction there only reads, and starts deferred
	// (BEGIN IMMEDIATE takes the write lock). The writer set WAL already.
	r.Set("mode", "ro")
	r.Set("_txlock", "deferred")
	r.Del("_journal_mode")
	return "file:" + path + "?" + q.Encode(), "file:" + path + "?" + r.Encode(), nil
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
	return &DB{Driver: Postgres, SQL: sdb, Read: sdb, Pool: pool, Ent: ent.NewClient(ent.Driver(drv)), drv: drv}, nil
}

func ping(ctx context.Context, sdb *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return sdb.PingContext(ctx)
}

// Ping reports whether the database answers (for readiness checks). It
// asks a reader, which a long write does not hold up.
func (d *DB) Ping(ctx context.Context) error { return ping(ctx, d.Read) }
