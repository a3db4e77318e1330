//go:build cgo

package db

import (
	"errors"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// sqliteFailure is WriteFailure for SQLite's errors; ok is false for an
// error that is not SQLite's.
func sqliteFailure(err error) (reason string, ok bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return "", false
	}
	switch se.Code {
	case sqlite3.ErrFull:
		return "disk full", true
	case sqlite3.ErrReadonly:
		return "read-only", true
	case sqlite3.ErrIoErr:
		return "I/O error", true
	case sqlite3.ErrCantOpen:
		return "cannot open the database file", true
	case sqlite3.ErrPerm, sqlite3.ErrAuth:
		return "permission denied", true
	case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
		return "database file is damaged", true
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return reasonBusy, true
	case sqlite3.ErrError:
		if strings.Contains(se.Error(), "no such table") {
			return "schema is not current", true
		}
	}
	return "write failed", true
}
