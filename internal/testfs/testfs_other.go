//go:build !linux

// Package testfs gives tests file systems with faults of their own: a
// small tmpfs that fills up, or one mounted read-only. Mounting needs root
// on Linux; elsewhere the tests that need it are skipped.
package testfs

import "testing"

// Tmpfs would mount a small file system; only on Linux.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	t.Skip("mounting a file system is done on Linux only")
	return ""
}

// ReadOnly would remount a file system read-only; only on Linux.
func ReadOnly(t testing.TB, dir string) {
	t.Helper()
	t.Skip("mounting a file system is done on Linux only")
}
