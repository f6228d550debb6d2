package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestE2ERunAttachesTheMomentMounted starts 'btfuse mount M' and runs
// 'btfuse run --mount M -- true' as soon as M shows in
// /proc/self/mountinfo. The mount appears before the daemon's control
// socket answers; run must wait for the daemon rather than fail or try to
// mount a second filesystem there. "loop" does it again and again; in
// "slow-daemon" the daemon is stopped (SIGSTOP) the moment its mount
// appears and continued a second later, as a busy machine may leave it.
func TestE2ERunAttachesTheMomentMounted(t *testing.T) {
	testutil.RequirePrivileged(t)
	t.Run("slow-daemon", func(t *testing.T) { attachRound(t, 0, time.Second) })
	t.Run("loop", func(t *testing.T) {
		for i := range 50 {
			attachRound(t, i, 0)
		}
	})
}

// attachRound starts a daemon, runs 'btfuse run --mount' the moment its
// mount appears (holding the daemon stopped for pause, if not 0), then
// stops the daemon.
func attachRound(t *testing.T, round int, pause time.Duration) {
	dir, runtime := mountDirs(t)
	d := btfuse(runtime, "mount", dir)
	out := new(testutil.SyncBuffer)
	d.Stdout, d.Stderr = out, out
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		d.Wait()
		close(exited)
	}()
	stop := func() {
		select {
		case <-exited:
		default:
			d.Process.Signal(syscall.SIGCONT)
			d.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				d.Process.Kill()
				<-exited
			}
		}
		unix.Unmount(dir, unix.MNT_DETACH)
	}
	t.Cleanup(stop)
	if !waitMounted(t, dir, exited) {
		t.Fatalf("round %d: %s never appeared in the mount table; daemon output:\n%s", round, dir, out)
	}
	if pause > 0 {
		d.Process.Signal(syscall.SIGSTOP)
		time.AfterFunc(pause, func() { d.Process.Signal(syscall.SIGCONT) })
	}
	code, stdout, stderr := runBtfuse(t, runtime, "run", "--mount", dir, "--", "true")
	if code != 0 {
		stop()
		t.Fatalf("round %d: btfuse run right after the mount appeared: exit %d, stdout %q, stderr %q; daemon output:\n%s",
			round, code, stdout, stderr, out)
	}
	stop()
	if isMounted(t, dir) {
		t.Fatalf("round %d: %s still mounted after the daemon stopped", round, dir)
	}
}

// waitMounted polls the mount table until dir is in it, or the daemon has
// exited, or a minute has passed.
func waitMounted(tb testing.TB, dir string, exited <-chan struct{}) bool {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(string(data), " "+dir+" ") {
			return true
		}
		select {
		case <-exited:
			return false
		default:
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}
