// Package sysctltest lets a test change a global fs.* sysctl without
// racing the tests, in other test processes, whose answers depend on it:
// those hold the lock shared for their whole run, the changer holds it
// exclusively, so a differential test never sees the kernel and btfuse
// judge one call under two different settings.
package sysctltest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// lockPath is the lock file shared by every test process of the machine.
var lockPath = filepath.Join(os.TempDir(), "btfuse-sysctl-tests.lock")

// Shared holds the lock shared until tb ends: for tests whose answers
// depend on the fs.protected_* sysctls (differential runs against tmpfs).
func Shared(tb testing.TB) { lock(tb, unix.LOCK_SH) }

// Set holds the lock exclusively until tb ends, sets /proc/sys/fs/name to
// v, and puts the old value back at the end.
func Set(tb testing.TB, name string, v int) {
	tb.Helper()
	lock(tb, unix.LOCK_EX)
	p := "/proc/sys/fs/" + name
	old, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	if _, err := strconv.Atoi(strings.TrimSpace(string(old))); err != nil {
		tb.Fatalf("%s holds %q", p, old)
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(v)), 0); err != nil {
		tb.Fatalf("set %s to %d: %v", p, v, err)
	}
	tb.Cleanup(func() {
		if err := os.WriteFile(p, old, 0); err != nil {
			tb.Errorf("put %s back to %s: %v", p, strings.TrimSpace(string(old)), err)
		}
	})
}

func lock(tb testing.TB, how int) {
	tb.Helper()
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o666)
	if err != nil {
		tb.Fatalf("open %s: %v", lockPath, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		tb.Fatalf("flock %s: %v", lockPath, err)
	}
	// Closing the file releases the lock; cleanups run last-in first-out,
	// so Set's restore runs before this.
	tb.Cleanup(func() { f.Close() })
}
