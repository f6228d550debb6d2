package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/testutil"
)

// Opens of existing files for reading answered from the metadata view
// inside the process (fastlane/preload/view_open.c), and fstat of the
// descriptors the library opened.

// TestRunViewOpens: N open+fstat+read+close of a file under the mount are
// the fast lane's (status counts N opens and N fstats of door fast), and
// all but the process's first open (made before its handshake) are the
// view's: the channel's answers leave events in the ring, the view's do
// not.
func TestRunViewOpens(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flviewopen")
	dir, runtime, under := daemonWithFile(t, make([]byte, 4096))
	seg := ringOf(t, runtime, dir)
	const n = 2000
	cur := seg.Cursor(false)
	beforeOpen := notified(t, runtime, dir, "openat@fast")
	beforeFstat := notified(t, runtime, dir, "fstat@fast")
	beforeRun := notified(t, runtime, dir, "openat")
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, "loop", fmt.Sprint(n), under})...)
	if want := fmt.Sprintf("loop ok=%d fails=0\n", n); code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	opens := notified(t, runtime, dir, "openat@fast") - beforeOpen
	fstats := notified(t, runtime, dir, "fstat@fast") - beforeFstat
	if opens != n || fstats != n {
		t.Errorf("%d opens and fstats: %d opens and %d fstats counted for door fast", n, opens, fstats)
	}
	// What is notified is the program's start-up (the loader's opens
	// of its libraries, before the library runs).
	if got := notified(t, runtime, dir, "openat") - beforeRun; got > 10 {
		t.Errorf("%d opens notified to the seccomp lane", got)
	}
	if ev := ringEvents(t, cur, under); ev[event.DoorFast] > 1 || ev[event.DoorRun] != 0 {
		t.Errorf("%d opens: %d channel events, %d seccomp events in the ring; want at most 1, 0",
			n, ev[event.DoorFast], ev[event.DoorRun])
	}
}

// TestRunViewOpenHazards: files opened from the view keep behaving as the
// kernel's open files (flviewopen's transcript against a kernel tmpfs):
// unlinked or renamed over while open (fstat shows link count 0, its own
// mode and the unlink's ctime; the inode is freed with the last close,
// as statfs's free inodes show), chmod by another process and fchmod,
// fchown, fsetxattr by the descriptor, dup/dup2/dup3/F_DUPFD/close_range
// chains, a fork child reading after its parent closed and unlinked, exec
// with and without O_CLOEXEC, O_NOFOLLOW on a symlink, O_TRUNC,
// O_NOATIME, names made again, a thread renaming the names the opens
// walk, and a credential change after the first opens.
func TestRunViewOpenHazards(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flviewopen")
	dir, runtime := mountDirs(t)
	// The transcript switches to uid 1000 at the end.
	startDaemon(t, runtime, dir, "--allow-other")
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	beforeOpen := notified(t, runtime, dir, "openat@fast")
	laneDiff(t, runtime, dir, helper, "hazards")
	if got := notified(t, runtime, dir, "openat@fast") - beforeOpen; got < 1000 {
		t.Errorf("the fast lane answered %d opens, want most of the race's 3000", got)
	}
}

// TestRunViewFaultRule: while a fault rule names a call the view answers,
// the view steps aside and the rule is applied (the seccomp lane's); once
// the rule is gone, the view answers again.
func TestRunViewFaultRule(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flviewopen")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	under := filepath.Join(dir, "f")
	if err := os.WriteFile(under, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := func(want string) {
		t.Helper()
		code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, "loop", "50", under})...)
		if code != 0 || out != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
		}
	}
	loop("loop ok=50 fails=0\n")
	for _, rule := range []string{"openat:error=EIO:path=*/f"} {
		if code, _, errOut := runBtfuse(t, runtime, "inject", dir, "add", rule); code != 0 {
			t.Fatalf("inject add %s: %s", rule, errOut)
		}
		loop("loop ok=0 fails=50\n")
		if code, _, errOut := runBtfuse(t, runtime, "inject", dir, "clear"); code != 0 {
			t.Fatalf("inject clear: %s", errOut)
		}
	}
	before := notified(t, runtime, dir, "openat@fast")
	loop("loop ok=50 fails=0\n")
	if got := notified(t, runtime, dir, "openat@fast") - before; got != 50 {
		t.Errorf("after the rules: %d opens answered by the fast lane, want 50", got)
	}
}

// TestRunFastLaneDirOpens: a directory opened without O_DIRECTORY (as
// sqlite opens a database's directory to fsync it) is opened by the
// kernel at once when the view shows a directory, as the daemon would
// have answered (fsimpl steps aside for directories), so the open costs
// no round trip; every open around it (symlinks, trailing slashes,
// missing names, write and create flags, a removed directory, another
// user's refusals) answers as in a kernel tmpfs.
func TestRunFastLaneDirOpens(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "fldiropen")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	laneDiff(t, runtime, dir, helper, "diff")

	under := filepath.Join(dir, "loop")
	if err := os.Mkdir(under, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 200
	before := notified(t, runtime, dir, "openat@fast")
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, "loop", fmt.Sprint(n), under})...)
	if want := fmt.Sprintf("loop ok=%d fails=0\n", n); code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	// The first open comes before the handshake and the view: the
	// channel takes it (and the daemon answers Kernel).
	if got := notified(t, runtime, dir, "openat@fast") - before; got > 1 {
		t.Errorf("%d opens of a directory: the channel saw %d, want at most the first", n, got)
	}
}
