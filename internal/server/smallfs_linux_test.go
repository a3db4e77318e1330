package server_test

import (
	"os"
	"syscall"
	"testing"
)

// smallFileSystem mounts a 2 MiB tmpfs for the test, which needs root
// (and a system that lets it mount); otherwise the test is skipped.
func smallFileSystem(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a small file system: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
