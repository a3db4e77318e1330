//go:build !cgo

package db

// sqliteFailure: without cgo there is no SQLite, and no SQLite error.
func sqliteFailure(error) (string, bool) { return "", false }
