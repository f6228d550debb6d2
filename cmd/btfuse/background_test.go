package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// bgDaemon is a daemon started with 'btfuse mount -d': not a child of the
// test, so it is found by the pid it printed.
type bgDaemon struct {
	pid int
	log string
}

var servingBG = regexp.MustCompile(`serving (.+) in the background \(pid (\d+), log in (.+)\); stop it`)

// mountBackground runs 'btfuse mount -d dir extra...' and requires it to
// succeed. At cleanup, pass or fail, the daemon is killed (continued
// first, in case a test stopped it) and dir detached.
func mountBackground(tb testing.TB, runtime, dir string, extra ...string) *bgDaemon {
	tb.Helper()
	code, out, errOut := runBtfuse(tb, runtime, append(append([]string{"mount", "-d"}, extra...), dir)...)
	m := servingBG.FindStringSubmatch(out)
	if m != nil {
		pid, _ := strconv.Atoi(m[2])
		tb.Cleanup(func() { killBackground(pid, dir) })
	}
	if code != 0 || m == nil || m[1] != dir {
		tb.Fatalf("btfuse mount -d %s: exit %d, stdout %q, stderr %q", dir, code, out, errOut)
	}
	pid, _ := strconv.Atoi(m[2])
	return &bgDaemon{pid: pid, log: m[3]}
}

// killBackground ends a background daemon for good and detaches its mount.
func killBackground(pid int, dir string) {
	if pidIsBtfuse(pid) {
		unix.Kill(pid, unix.SIGCONT)
		unix.Kill(pid, unix.SIGKILL)
		for i := 0; i < 500 && pidIsBtfuse(pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	unix.Unmount(dir, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
}

// pidIsBtfuse reports whether pid is alive (not a zombie) and runs this
// test binary, so that a recycled pid is never signalled.
func pidIsBtfuse(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	self, _ := os.Readlink("/proc/self/exe")
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
		return false
	}
	return exe == self
}

// TestE2EMountBackground: 'btfuse mount -d' returns once the mount and
// the control socket answer, with a daemon detached from the caller (its
// own session, stdin /dev/null) that ignores SIGHUP and logs to a file.
func TestE2EMountBackground(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := mountBackground(t, runtime, dir, "--size", "64M")
	// Ready means ready: the control socket answers at once.
	if code, out, errOut := runBtfuse(t, runtime, "status", dir); code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d", d.pid)) {
		t.Errorf("status right after mount -d: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if sid, err := unix.Getsid(d.pid); err != nil || sid != d.pid {
		t.Errorf("daemon pid %d: session %d (%v), want a session of its own", d.pid, sid, err)
	}
	if in, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", d.pid)); err != nil || in != os.DevNull {
		t.Errorf("daemon stdin is %q (%v), want /dev/null", in, err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/fd/3", d.pid)); err == nil {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", d.pid)); strings.HasPrefix(l, "pipe:") {
			t.Errorf("daemon still holds its readiness pipe at descriptor 3")
		}
	}
	if !strings.HasPrefix(d.log, runtime+"/") {
		t.Errorf("default log %s is not under the runtime directory %s", d.log, runtime)
	}
	unix.Kill(d.pid, unix.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("after SIGHUP\n"), 0o644); err != nil || !pidIsBtfuse(d.pid) {
		t.Fatalf("after SIGHUP: write %v, daemon alive %v", err, pidIsBtfuse(d.pid))
	}
	code, out, errOut := runBtfuse(t, runtime, "umount", dir)
	if code != 0 || !strings.Contains(out, "unmounted "+dir) {
		t.Fatalf("umount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	waitExit(t, d.pid)
	if isMounted(t, dir) {
		t.Errorf("%s mounted after umount", dir)
	}
	log, err := os.ReadFile(d.log)
	if err != nil || !strings.Contains(string(log), "serving "+dir) || !strings.Contains(string(log), "unmounted "+dir) {
		t.Errorf("log %s: %q, %v; want the serving line and the unmount", d.log, log, err)
	}
	if st, err := os.Stat(d.log); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, %v; want 0600", st.Mode(), err)
	}
}

// TestE2EMountBackgroundErrors: a daemon that cannot start makes
// 'btfuse mount -d' fail with the daemon's own message, and an explicit
// --log is used.
func TestE2EMountBackgroundErrors(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	missing := filepath.Join(dir, "nope")
	code, out, errOut := runBtfuse(t, runtime, "mount", "-d", missing)
	if code == 0 || !strings.Contains(errOut, "mount point "+missing+" does not exist") || out != "" {
		t.Errorf("mount -d on a missing directory: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	log := filepath.Join(t.TempDir(), "my.log")
	d := mountBackground(t, runtime, dir, "--log", log)
	if d.log != log {
		t.Errorf("log in %s, want --log %s", d.log, log)
	}
	// A second daemon for the same directory is refused, by the child,
	// with its message.
	code, _, errOut = runBtfuse(t, runtime, "mount", "-d", dir)
	if code == 0 || !strings.Contains(errOut, fmt.Sprintf("btfuse daemon pid %d already serves %s", d.pid, dir)) {
		t.Errorf("second mount -d: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount: %d %s", code, errOut)
	}
}

// TestE2EMountBackgroundRunLoop: 'btfuse run --mount' right after
// 'btfuse mount -d' returns always attaches to that daemon, round after
// round: -d returns only once the control socket answers.
func TestE2EMountBackgroundRunLoop(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	for i := range 30 {
		d := mountBackground(t, runtime, dir)
		code, out, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c",
			fmt.Sprintf(`echo %d > "$BTFUSE_MOUNT/round"; cat "$BTFUSE_MOUNT/round"`, i))
		if code != 0 || out != fmt.Sprintf("%d\n", i) || errOut != "" {
			t.Fatalf("round %d: run --mount after mount -d: exit %d, stdout %q, stderr %q", i, code, out, errOut)
		}
		if code, out, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
			t.Fatalf("round %d: umount: exit %d, stdout %q, stderr %q", i, code, out, errOut)
		}
		// umount returns once the daemon has unmounted and released its
		// entry; its process may take a moment more to end.
		waitExit(t, d.pid)
		if isMounted(t, dir) {
			t.Fatalf("round %d: %s mounted after umount", i, dir)
		}
	}
}

// TestE2EMountBackgroundJournal: under systemd (JOURNAL_STREAM names the
// stream on stderr), a background daemon without --log keeps stderr, the
// journal, for its log, in slog's format; no log file is made.
func TestE2EMountBackgroundJournal(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	journal, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer journal.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(journal.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	cmd := btfuse(runtime, "mount", "-d", "-v", dir)
	cmd.Env = append(cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, journal
	if err := cmd.Run(); err != nil {
		t.Fatalf("mount -d: %v; stdout %q", err, out.String())
	}
	m := servingBG.FindStringSubmatch(out.String())
	if m == nil || m[3] != "the journal" {
		t.Fatalf("mount -d under the journal said %q", out.String())
	}
	pid, _ := strconv.Atoi(m[2])
	t.Cleanup(func() { killBackground(pid, dir) })
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount: %d %s", code, errOut)
	}
	waitExit(t, pid)
	b, _ := os.ReadFile(journal.Name())
	if !strings.Contains(string(b), "serving "+dir) || !strings.Contains(string(b), "level=INFO") {
		t.Errorf("journal got %q; want the serving line and the log", b)
	}
	if logs, _ := os.ReadDir(filepath.Join(runtime, "logs")); len(logs) != 0 {
		t.Errorf("log files made under the journal: %v", logs)
	}
}
