package db

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// prepareSQLiteFile makes sure a SQLite database can live at path: its
// directory exists (created 0750) and is writable, and the file exists
// (created 0600: it holds password hashes, and SQLite gives the -wal and
// -shm files it makes next to it the same mode). A directory that cannot
// be written is reported as such, naming it, rather than as SQLite's
// "unable to open database file".
func prepareSQLiteFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		parent := existingParent(dir)
		return notWritable(fmt.Sprintf("cannot create the database directory %s: %s", abs(dir), abs(parent)), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		// SQLite must also create the -wal and -shm files beside it.
		probe, err := os.CreateTemp(dir, ".gatehouse-write-check-*")
		if err != nil {
			return notWritable("the database directory "+abs(dir), err)
		}
		probe.Close()
		return os.Remove(probe.Name())
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return notWritable("the database directory "+abs(dir), err)
	}
	return fmt.Errorf("create the database file %s: %w", path, err)
}

// notWritable explains that what (a directory) cannot be written, with the
// system's reason and what to do about it.
func notWritable(what string, err error) error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	return fmt.Errorf("%s is not writable (%s): Gatehouse keeps its SQLite database and the database's -wal and -shm files there; "+
		"make the directory writable for the user Gatehouse runs as (uid %d), or point database.dsn (--db, GATEHOUSE_DATABASE_DSN) "+
		"at a file in a writable directory", what, reason, os.Getuid())
}

// existingParent is the nearest ancestor of dir that exists.
func existingParent(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			return d
		}
	}
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// sqliteModeWarnings warns when users other than the owner may read or
// write the database file (SQLite gives its -wal and -shm files the same
// mode). The mode is left alone: it may be on purpose.
func sqliteModeWarnings(path string) []string {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the database file %s has mode %04o (and so have its -wal and -shm files): "+
		"other users may read the password hashes in it; restrict it with chmod 600 %s (new databases are created 0600)",
		path, fi.Mode().Perm(), path)}
}
