package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/daemon"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/shmring"
)

// deathLoop stats and reads a file in the mount until one of them fails,
// then says so. Only shell builtins until then. An attached target goes on
// (afterDeath); an embedded one exits 3 at once.
const deathLoop = `echo "$$"
i=0
while read -r x < "$BTFUSE_MOUNT/f" && [ -e "$BTFUSE_MOUNT/f" ]; do
	i=$((i+1))
	[ "$i" = 20 ] && echo looping
done
echo "stopped after $i" >&2
`

// afterDeath is what an attached target must still be able to do once
// its daemon is gone: stat / (a builtin), exec a program, and see the
// mount fail as a dead FUSE mount does (cat says why on stdout).
const afterDeath = `[ -d / ] && echo "stat / ok"
/bin/true && echo "/bin/true ok"
cat "$BTFUSE_MOUNT/f" 2>&1 | sed 's/^.*: //'
exit 3
`

// TestE2ERunDaemonKilled: a supervised target loops on stat and open in
// the mount, and its daemon is SIGKILLed: a 'btfuse mount' daemon the
// target is attached to, while it serves ("attached", the fast lane on)
// or after a SIGSTOP has left the target waiting in a notification nobody
// receives ("attached-stopped", on the seccomp lane alone), or while the target is stopped ("target-stopped":
// it goes on when continued); or 'btfuse run' itself, whose embedded daemon
// dies with it ("embedded"). An attached target goes on without the
// daemon: 'btfuse run' took the listener over and continues every call,
// so stat / and exec work, and the mount fails with ENOTCONN, the answer
// of a FUSE connection whose daemon died; 'btfuse run' says what happened
// and exits daemon.ExitDaemonLost. An embedded target, whose listener is
// gone with its daemon, gets ENOSYS from every notified call
// (kernel/seccomp.c:seccomp_notify_detach()) and must exit instead of
// hanging. A daemon asked to unmount while a target is attached ("umount")
// stops serving it with a word: run takes over the same way, and the
// target's calls reach the FUSE mount while it lasts, then the directory
// under it. Nothing may stay behind: no process, no mount.
func TestE2ERunDaemonKilled(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, mode := range []string{"attached", "attached-stopped", "target-stopped", "umount", "embedded"} {
		t.Run(mode, func(t *testing.T) { runDaemonKilled(t, mode) })
	}
}

// TestE2ERunDaemonKilledMidCall: a daemon killed while it handles a call
// leaves that notification received and unanswered, and the kernel keeps
// it pending as long as 'btfuse run' holds its copy of the listener: the
// daemon's ids on the notification board are how run finds and continues
// it (otherwise the target would wait forever). A kill at a random moment
// often lands inside a handler: repeat until run reports such a call, each round with the checks of
// TestE2ERunDaemonKilled.
func TestE2ERunDaemonKilledMidCall(t *testing.T) {
	testutil.RequirePrivileged(t)
	const rounds = 40
	midCall := regexp.MustCompile(`, [1-9][0-9]* of them received by the daemon and never answered`)
	for i := range rounds {
		var stderr string
		if !t.Run(fmt.Sprint(i), func(t *testing.T) { stderr = runDaemonKilled(t, "attached-seccomp") }) {
			return
		}
		if midCall.MatchString(stderr) {
			t.Logf("round %d killed the daemon inside a call", i)
			return
		}
	}
	t.Errorf("in %d rounds, no kill left a call received and unanswered", rounds)
}

func runDaemonKilled(t *testing.T, mode string) string {
	// Registered first, so it runs last: the killed daemon's shared-memory
	// segment, which the next daemon or status would otherwise sweep.
	t.Cleanup(func() { shmring.Sweep("") })
	dir, runtime := mountDirs(t)
	var d *daemonProc
	if mode != "embedded" {
		d = startDaemon(t, runtime, dir)
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := deathLoop + afterDeath
	if d == nil {
		script = `echo data > "$BTFUSE_MOUNT/f"` + "\n" + deathLoop + "exit 3\n"
	}
	args := []string{"run", "--mount", dir}
	if mode == "attached-stopped" || mode == "attached-seccomp" {
		// Calls that wait in a notification the daemon received: the fast
		// lane's channel would take the calls under the mount instead.
		args = append(args, "--no-fast-lane")
	}
	run := btfuse(runtime, append(args, "--", "sh", "-c", script)...)
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(testutil.SyncBuffer)
	run.Stderr = stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait returns once the target, which holds the other ends of stdout
	// and stderr, has exited too.
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- run.Wait()
	}()
	var pid int
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			run.Process.Kill()
			if pid > 0 {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("btfuse run ended before %s; stderr:\n%s", what, stderr)
			}
			return l
		case <-time.After(time.Minute):
			t.Fatalf("no %s from the target; stderr:\n%s", what, stderr)
		}
		return ""
	}
	pid, err = strconv.Atoi(next("pid"))
	if err != nil {
		t.Fatal(err)
	}
	if l := next("loop"); l != "looping" {
		t.Fatalf("target printed %q", l)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clearStaleMount(t, dir, st.Dev) }) // runs before startDaemon's cleanup

	switch mode {
	case "attached-stopped":
		d.signal(t, syscall.SIGSTOP)
		waitWchan(t, pid, "seccomp_do_user_notification")
		fallthrough
	case "attached", "attached-seccomp":
		d.signal(t, syscall.SIGKILL)
		d.wait(t)
	case "target-stopped":
		if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitState(t, pid, 'T')
		d.signal(t, syscall.SIGKILL)
		d.wait(t)
		if err := unix.Kill(pid, unix.SIGCONT); err != nil {
			t.Fatal(err)
		}
	case "umount":
		if code, out, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
			t.Fatalf("umount: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		d.wait(t)
	case "embedded":
		if err := run.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	}

	if d != nil {
		mountErr := "Transport endpoint is not connected"
		if mode == "umount" {
			mountErr = "No such file or directory" // f was in the filesystem, not in dir
		}
		for _, want := range []string{"stat / ok", "/bin/true ok", mountErr} {
			if l := next(want); l != want {
				t.Errorf("after the daemon died, the target printed %q, want %q", l, want)
			}
		}
	}
	select {
	case <-exited:
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		t.Fatalf("target %d still running a minute after the daemon died (wchan %s); stderr:\n%s", pid, wchan, stderr)
	}
	t.Logf("stderr after the daemon died:\n%s", stderr)
	if !strings.Contains(stderr.String(), "stopped after") {
		t.Errorf("the target did not stop on an error; stderr:\n%s", stderr)
	}
	if d != nil {
		if code := run.ProcessState.ExitCode(); code != daemon.ExitDaemonLost {
			t.Errorf("btfuse run: exit %d, want %d", code, daemon.ExitDaemonLost)
		}
		said := []string{
			fmt.Sprintf("the daemon (pid %d) serving %s died while the command ran", d.cmd.Process.Pid, dir),
			"fail (ENOTCONN",
			"the command exited with status 3",
		}
		if mode == "umount" {
			said[0] = fmt.Sprintf("the daemon (pid %d) serving %s stopped serving the command (the daemon is shutting down)", d.cmd.Process.Pid, dir)
			said[1] = "under " + dir + " to whatever is mounted there"
		}
		for _, want := range said {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("btfuse run did not say %q; stderr:\n%s", want, stderr)
			}
		}
	}
	if d == nil {
		// Orphaned, the target is reaped by whoever adopted it: gone or a
		// zombie is what counts. Its pipes closed as it began to exit, so
		// it may still be finishing.
		deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil || strings.Contains(string(b), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("target %d still exists: %s", pid, b)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	} else if err := unix.Kill(pid, 0); err != unix.ESRCH {
		t.Errorf("target %d still exists: %v", pid, err)
	}

	if mode == "umount" {
		if isMounted(t, dir) {
			t.Errorf("%s still mounted after umount", dir)
		}
		return stderr.String()
	}
	// The dead daemon's mount is stale; btfuse umount clears it.
	if code, out, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 || !strings.Contains(out, "cleared the stale FUSE mount") {
		t.Errorf("umount of the stale mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
	return stderr.String()
}

// waitWchan waits until process pid sleeps in the kernel function want
// (or a clone of it the compiler named want.something).
func waitWchan(t *testing.T, pid int, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		if err != nil {
			t.Fatalf("wchan of %d: %v", pid, err)
		}
		if string(b) == want || strings.HasPrefix(string(b), want+".") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d sleeps in %q, never in %s", pid, b, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// clearStaleMount aborts the FUSE connection of the mount with device dev
// through fusectl, if it is still mounted on dir, and detaches dir. The
// check matters: once that connection is gone its number is handed to the
// next FUSE mount, and aborting it blindly killed another test's mount.
func clearStaleMount(t *testing.T, dir string, dev uint64) {
	if mountDev(t, dir) != fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)) {
		return
	}
	const ctl = "/sys/fs/fuse/connections"
	abort := fmt.Sprintf("%s/%d/abort", ctl, unix.Minor(dev))
	if _, err := os.Stat(filepath.Dir(abort)); err != nil {
		unix.Mount("none", ctl, "fusectl", 0, "")
	}
	if err := os.WriteFile(abort, []byte("1"), 0); err != nil && !os.IsNotExist(err) {
		t.Errorf("abort %s: %v", abort, err)
	}
	if isMounted(t, dir) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("detach %s: %v", dir, err)
		}
	}
}

// mountDev is the major:minor of the mount on dir, "" when none.
func mountDev(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	dev := ""
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			dev = f[2] // the last one mounted there is the visible one
		}
	}
	return dev
}

// waitState waits until process pid is in state (the letter after the
// command in /proc/PID/stat: 'T' stopped).
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("state of %d: %v", pid, err)
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never in state %c: %s", pid, state, b)
		}
		time.Sleep(time.Millisecond)
	}
}
