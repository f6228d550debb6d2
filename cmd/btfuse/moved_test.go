package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// movedMount is a daemon mounted at old, whose parent directory was then
// renamed: the mount is at now, and old is free for something else.
type movedMount struct {
	d        *daemonProc
	runtime  string
	old, now string
}

// startMovedMount starts "btfuse mount" on P/m with a file f reading
// "served", and renames P to P2. At cleanup, pass or fail, the daemon is
// killed and its mount detached where it is now, without following a
// symbolic link.
func startMovedMount(tb testing.TB) *movedMount {
	tb.Helper()
	base := tb.TempDir()
	parent := filepath.Join(base, "p")
	m := &movedMount{
		runtime: filepath.Join(base, "run"),
		old:     filepath.Join(parent, "m"),
		now:     filepath.Join(base, "p2", "m"),
	}
	if err := os.MkdirAll(m.old, 0o755); err != nil {
		tb.Fatal(err)
	}
	m.d = startDaemon(tb, m.runtime, m.old)
	tb.Cleanup(func() { // before startDaemon's cleanup, which knows only the old path
		select {
		case <-m.d.exited:
		default:
			m.d.cmd.Process.Kill()
			<-m.d.exited
		}
		unix.Unmount(m.now, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	})
	if err := os.WriteFile(filepath.Join(m.old, "f"), []byte("served"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(parent, filepath.Dir(m.now)); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(parent, 0o755); err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestE2EMountMovedSymlinkTerm: after a rename above the mount, with a
// symbolic link to another mounted filesystem at the old path, SIGTERM
// unmounts the daemon's mount and not the other filesystem, and the daemon
// exits. The daemon unmounted its old path, following the link: the other
// filesystem went, and the daemon then waited for its own mount to end.
func TestE2EMountMovedSymlinkTerm(t *testing.T) {
	testutil.RequirePrivileged(t)
	m := startMovedMount(t)
	other := testutil.TmpfsDir(t)
	if err := os.WriteFile(filepath.Join(other, "mark"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, m.old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(m.old) }) // before the tmpfs goes: nothing may follow it then

	m.d.signal(t, syscall.SIGTERM)
	if code := m.d.wait(t); code != 0 {
		t.Errorf("daemon exit %d; stderr:\n%s", code, m.d.errw)
	}
	if !isMounted(t, other) {
		t.Errorf("%s (named by the symbolic link at the old path) was unmounted", other)
	}
	if _, err := os.Stat(filepath.Join(other, "mark")); err != nil {
		t.Errorf("the other filesystem's file: %v", err)
	}
	if isMounted(t, m.now) {
		t.Errorf("%s still mounted after SIGTERM", m.now)
	}
	if !strings.Contains(m.d.out.String(), "unmounted "+m.now) {
		t.Errorf("daemon output %q does not say it unmounted %s", m.d.out, m.now)
	}
	if fi, err := os.Lstat(m.old); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link at the old path: %v, %v", fi, err)
	}
}
