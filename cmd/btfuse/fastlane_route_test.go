package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// How the library routes calls relative to directory descriptors, and
// the gaps of interposition it closes; the differential tests compare a
// C program's transcript under 'btfuse run' with the library against the
// same program in a kernel tmpfs without btfuse.

// laneDiff runs helper (built from fastlane/testdata) natively in a
// kernel tmpfs and under 'btfuse run' with the library in a fresh
// directory of the mount served by runtime, and fails on any line that
// differs. Every process handshakes at once (BTFUSE_FAST_AFTER=0), so
// that the channel, not the seccomp lane, takes the calls it serves.
func laneDiff(t *testing.T, runtime, dir, helper, sub string, args ...string) {
	t.Helper()
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(helper, append([]string{ref}, args...)...).Output()
	if err != nil {
		t.Fatalf("%s natively: %v\n%s", filepath.Base(helper), err, want)
	}
	under := filepath.Join(dir, sub)
	if err := os.MkdirAll(under, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := append([]string{helper, under}, args...)
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, cmd)...)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if d := lineDiff(string(want), out); d != "" {
		t.Errorf("differs from the kernel without btfuse (-kernel +run):\n%s", d)
	}
}

// TestRunFastLaneDirfd: calls relative to directory descriptors under the
// mount (mkdirat, openat creating, reading and truncating, fstatat of a
// file while another descriptor writes it, readlinkat, faccessat, statx,
// renameat, linkat, unlinkat, and a walk as find's fts makes it) return
// what the kernel returns in a tmpfs, and the channel serves the opens and
// name changes among them.
func TestRunFastLaneDirfd(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "fldirfd")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	beforeOpen := notified(t, runtime, dir, "openat@fast")
	beforeMkdir := notified(t, runtime, dir, "mkdirat@fast")
	laneDiff(t, runtime, dir, helper, "dirfd")
	// 6 opens of files relative to the descriptor, 5 mkdirat.
	if got := notified(t, runtime, dir, "openat@fast") - beforeOpen; got < 6 {
		t.Errorf("the channel saw %d openat, want the 6 of files relative to a directory descriptor", got)
	}
	if got := notified(t, runtime, dir, "mkdirat@fast") - beforeMkdir; got < 5 {
		t.Errorf("the channel saw %d mkdirat, want 5", got)
	}
}

// TestRunFastLaneDescriptors: descriptors the library opened behave as the
// kernel's across dup, dup2, dup3, fcntl F_DUPFD/F_DUPFD_CLOEXEC and
// close_range (a duplicate is the file, unlinked too, until the last one
// is closed; dup2 onto one makes it the other file), fclose (glibc's own
// close: the File is released, so the removed files are freed), freopen
// (the stream's descriptor is the new file), a vfork child's close (the
// parent's descriptor is still the file), and an O_CREAT, O_TRUNC or fopen
// "w" with the descriptor table full fails with EMFILE before creating
// anything, as fs/open.c does.
func TestRunFastLaneDescriptors(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flfds")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	laneDiff(t, runtime, dir, helper, "fds")
}

// TestRunFastLaneClosefrom: a program that closes every descriptor above
// stderr (closefrom(3), close_range(3, ~0U, 0)) while it holds files under
// the mount frees what only those descriptors held, as the kernel does,
// and keeps the channel: its mkdirs and opens afterwards are answered by
// door fast.
func TestRunFastLaneClosefrom(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flclosefrom")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	for _, how := range []string{"closefrom", "close_range"} {
		t.Run(how, func(t *testing.T) {
			beforeMkdir := notified(t, runtime, dir, "mkdirat@fast")
			beforeOpen := notified(t, runtime, dir, "openat@fast")
			laneDiff(t, runtime, dir, helper, how, how)
			// One mkdir and two opens before the close, ten mkdirs and
			// twenty opens after it.
			if got := notified(t, runtime, dir, "mkdirat@fast") - beforeMkdir; got < 11 {
				t.Errorf("the channel saw %d mkdirat, want 11", got)
			}
			if got := notified(t, runtime, dir, "openat@fast") - beforeOpen; got < 22 {
				t.Errorf("the channel saw %d openat, want 22", got)
			}
		})
	}
}
