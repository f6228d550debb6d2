// Package testutil holds helpers shared by the test suites: the rule for
// tests that need privileges, and mounts that clean up after themselves.
package testutil

import (
	"io"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// RequirePrivileged skips t unless the process is root and /dev/fuse can be
// opened. When BTFUSE_REQUIRE_PRIVILEGED=1 (as in CI) a missing privilege is
// a failure instead: a green run whose real tests were skipped is a red run.
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root"
	} else if fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		reason = "needs /dev/fuse: " + err.Error()
	} else {
		unix.Close(fd)
	}
	if reason == "" {
		return
	}
	SkipOrFail(tb, "this test "+reason)
}

// SkipOrFail skips tb for a missing prerequisite (root, a device, a tool that
// .ci/setup installs), or fails it under BTFUSE_REQUIRE_PRIVILEGED=1, where
// every prerequisite is meant to be there.
func SkipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv("BTFUSE_REQUIRE_PRIVILEGED") == "1" {
		tb.Fatalf("BTFUSE_REQUIRE_PRIVILEGED=1 but %s", reason)
	}
	tb.Skip(reason)
}

// RequireProgram skips tb, or fails it under BTFUSE_REQUIRE_PRIVILEGED=1,
// when one of progs (tools that .ci/setup installs) is not on PATH.
func RequireProgram(tb testing.TB, progs ...string) {
	tb.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			SkipOrFail(tb, p+" is not installed (.ci/setup installs it)")
		}
	}
}

// TmpfsDir mounts a fresh tmpfs on a temporary directory and returns it: the
// reference filesystem of the differential tests. It is unmounted when the
// test ends, pass or fail.
func TmpfsDir(tb testing.TB) string {
	tb.Helper()
	RequirePrivileged(tb)
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		tb.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmount tmpfs %s: %v", dir, err)
		}
	})
	return dir
}

// CopyExecutable copies the program at from to a new file to, mode 0755:
// a test binary lives in a 0700 build directory, which another user
// cannot reach.
func CopyExecutable(tb testing.TB, from, to string) {
	tb.Helper()
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}
