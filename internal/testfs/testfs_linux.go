// Package testfs gives tests file systems with faults of their own: a
// small tmpfs that fills up, or one mounted read-only. Mounting needs root
// on Linux; elsewhere the tests that need it are skipped.
package testfs

import (
	"os"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (e.g. "2m") on a new temporary directory
// and returns it; it is unmounted when t ends. Without root, or where the
// system refuses the mount, t is skipped.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a file system needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a file system: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// ReadOnly remounts a file system that Tmpfs mounted read-only; where the
// system refuses, t is skipped.
func ReadOnly(t testing.TB, dir string) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
}
