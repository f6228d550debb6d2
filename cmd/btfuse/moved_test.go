package main

import (
	"encoding/json"
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

// TestE2EMountMoved: after a rename above the mount, with a plain
// directory at the old path, the old path is not the daemon's: run refuses
// to hand it a command for that path, and umount of it refuses; the new
// path is the daemon's for run, status and umount, and umount leaves the
// plain directory alone. The registry went by the old path string: run
// attached there, and status, run and umount did not know the new path.
func TestE2EMountMoved(t *testing.T) {
	testutil.RequirePrivileged(t)
	m := startMovedMount(t)
	if err := os.Mkdir(m.old, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(m.old, "f")
	if err := os.WriteFile(plain, []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runBtfuse(t, m.runtime, "run", "--mount", m.old, "--", "cat", plain)
	if code == 0 || out == "served" || !strings.Contains(errOut, "is at "+m.now) {
		t.Errorf("run --mount %s (old path): exit %d, stdout %q, stderr %q; want a refusal naming %s", m.old, code, out, errOut, m.now)
	}
	code, out, errOut = runBtfuse(t, m.runtime, "run", "--mount", m.now, "--", "cat", filepath.Join(m.now, "f"))
	if code != 0 || out != "served" || strings.Contains(errOut, "filesystem at") {
		t.Errorf("run --mount %s (new path): exit %d, stdout %q, stderr %q; want the daemon's file", m.now, code, out, errOut)
	}

	code, out, errOut = runBtfuse(t, m.runtime, "status", "--json", m.now)
	var st []struct {
		Mount     string `json:"mount"`
		MountedAs string `json:"mounted_as"`
		PID       int    `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st) != 1 ||
		st[0].Mount != m.now || st[0].MountedAs != m.old || st[0].PID != m.d.cmd.Process.Pid {
		t.Errorf("status %s: exit %d, %+v (%v), stderr %q; want the daemon at %s, mounted as %s", m.now, code, st, err, errOut, m.now, m.old)
	}
	code, out, _ = runBtfuse(t, m.runtime, "status")
	if code != 0 || !strings.Contains(out, m.now+"  pid") {
		t.Errorf("status: exit %d, %q; want the daemon shown at %s", code, out, m.now)
	}

	if code, _, errOut := runBtfuse(t, m.runtime, "umount", m.old); code == 0 || !strings.Contains(errOut, "is at "+m.now) {
		t.Errorf("umount %s (old path): exit %d, stderr %q; want a refusal naming %s", m.old, code, errOut, m.now)
	}
	if code, _, errOut := runBtfuse(t, m.runtime, "umount", m.now); code != 0 {
		t.Fatalf("umount %s: exit %d, stderr %q", m.now, code, errOut)
	}
	if code := m.d.wait(t); code != 0 {
		t.Errorf("daemon exit %d; stderr:\n%s", code, m.d.errw)
	}
	if isMounted(t, m.now) {
		t.Errorf("%s still mounted after umount", m.now)
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "plain" {
		t.Errorf("the plain directory at the old path: %q, %v", b, err)
	}
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
