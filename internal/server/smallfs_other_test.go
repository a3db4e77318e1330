//go:build !linux

package server_test

import "testing"

// smallFileSystem would mount a small file system; only on Linux.
func smallFileSystem(t *testing.T) string {
	t.Helper()
	t.Skip("mounting a small file system is done on Linux only")
	return ""
}
