package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrPostgresBackup is returned (wrapped, with an example pg_dump command)
// when a backup of a PostgreSQL database is asked for: PostgreSQL is backed
// up with its own tools.
var ErrPostgresBackup = errors.New("PostgreSQL databases are backed up with pg_dump, not gatehouse backup")

// Backup writes a consistent copy of the database to a new file at path.
//
// SQLite: the copy is made with VACUUM INTO inside one read transaction, so
// it is a consistent snapshot even while other connections keep writing,
// and it is a compact, complete database that `gatehouse serve --db path`
// can start from. Backup refuses to overwrite an existing file, writes to a
// temporary file next to path first (so path never holds a partial copy),
// checks the copy's integrity, and leaves it readable by its owner only.
//
// PostgreSQL: Backup returns an error wrapping ErrPostgresBackup that shows
// the pg_dump command to use instead.
func (d *DB) Backup(ctx context.Context, path string) error {
	if d.Driver == Postgres {
		var cc *pgx.ConnConfig
		if d.Pool != nil {
			cc = d.Pool.Config().ConnConfig
		}
		return postgresBackupError(cc, path)
	}
	// VACUUM INTO only reads this database: a reader makes the copy and
	// the writer goes on writing.
	return backupSQLite(ctx, d.Read, path)
}

// PostgresBackupError is the error Backup returns for the PostgreSQL
// database dsn, without connecting to it: it wraps ErrPostgresBackup and
// shows a pg_dump command for dsn (never its password).
func PostgresBackupError(dsn, path string) error {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		cc = nil
	}
	return postgresBackupError(cc, path)
}

func postgresBackupError(cc *pgx.ConnConfig, path string) error {
	if path == "" {
		path = "gatehouse.dump"
	}
	args := []string{"pg_dump", "--format=custom", "--file=" + shellQuote(path)}
	if cc != nil {
		if cc.Host != "" {
			args = append(args, "--host="+shellQuote(cc.Host))
		}
		if cc.Port != 0 {
			args = append(args, "--port="+strconv.Itoa(int(cc.Port)))
		}
		if cc.User != "" {
			args = append(args, "--username="+shellQuote(cc.User))
		}
		if cc.Database != "" {
			args = append(args, "--dbname="+shellQuote(cc.Database))
		}
	} else {
		args = append(args, "--dbname=DATABASE")
	}
	return fmt.Errorf("%w (it is consistent while Gatehouse runs), e.g.: %s (password from PGPASSWORD or ~/.pgpass); restore with pg_restore --clean --if-exists --no-owner --dbname=DATABASE %s",
		ErrPostgresBackup, strings.Join(args, " "), shellQuote(path))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func backupSQLite(ctx context.Context, sdb *sql.DB, path string) error {
	if strings.TrimSpace(path) == "" {
		return errors.New("no backup file given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("backup file %s: %w", path, err)
	}
	if _, err := os.Lstat(abs); err == nil {
		return fmt.Errorf("backup file %s already exists; refusing to overwrite it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup file %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("backup file %s: directory %s does not exist", path, filepath.Dir(path))
	}

	// An empty file made here (mode 0600) is one VACUUM INTO accepts; the
	// copy holds password hashes and must not be world-readable.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".partial-*")
	if err != nil {
		return fmt.Errorf("backup file %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath)

	// A bare absolute path is never taken for a "file:" URI by SQLite.
	if _, err := sdb.ExecContext(ctx, "VACUUM INTO ?", tmpPath); err != nil {
		return fmt.Errorf("copy the database (VACUUM INTO): %w", err)
	}
	if err := checkSQLiteFile(ctx, tmpPath); err != nil {
		return fmt.Errorf("the copy failed its integrity check: %w", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return fmt.Errorf("backup file %s: %w", path, err)
	}
	// A hard link publishes the finished copy atomically and, unlike a
	// rename, fails rather than replace a file created meanwhile.
	if err := os.Link(tmpPath, abs); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("backup file %s already exists; refusing to overwrite it", path)
		}
		// Filesystems without hard links: rename after a last check.
		if _, serr := os.Lstat(abs); serr == nil {
			return fmt.Errorf("backup file %s already exists; refusing to overwrite it", path)
		}
		if err := os.Rename(tmpPath, abs); err != nil {
			return fmt.Errorf("backup file %s: %w", path, err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// checkSQLiteFile opens a finished copy read-only and runs SQLite's quick
// integrity check on it.
func checkSQLiteFile(ctx context.Context, path string) error {
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}
	c, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return err
	}
	defer c.Close()
	var res string
	if err := c.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return errors.New(res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// SQLiteFile returns the file behind a SQLite DSN ("data/gatehouse.db" or
// "file:data/gatehouse.db?..."), or "" for an in-memory database.
func SQLiteFile(dsn string) string {
	if dsn == ":memory:" || strings.Contains(dsn, "mode=memory") {
		return ""
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	return path
}
