package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestE2EUmountForce stops a daemon (SIGSTOP), so that its mount hangs:
// a plain umount gives up and points at --force, and 'btfuse umount
// --force' aborts the connection through fusectl without asking the
// daemon, which releases a caller blocked in the mount and detaches it.
func TestE2EUmountForce(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	d.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGCONT) }) // startDaemon's cleanup kills it
	waitStopped(t, d.cmd.Process.Pid)

	blocked := make(chan error, 1)
	go func() {
		var st unix.Statfs_t
		blocked <- unix.Statfs(dir, &st) // STATFS is never answered from a cache
	}()
	code, out, errOut := runBtfuse(t, runtime, "umount", "--timeout", "1s", dir)
	if code == 0 || !strings.Contains(errOut, "btfuse umount --force "+dir) {
		t.Errorf("umount of a stopped daemon: exit %d, stdout %q, stderr %q; want a failure that points at --force", code, out, errOut)
	}
	select {
	case err := <-blocked:
		t.Fatalf("statfs of the stopped daemon's mount returned %v before --force", err)
	default:
	}

	code, out, errOut = runBtfuse(t, runtime, "umount", "--force", dir)
	if code != 0 || !strings.Contains(out, "aborted the FUSE connection of "+dir) {
		t.Fatalf("umount --force: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, unix.ENOTCONN) && !errors.Is(err, unix.ECONNABORTED) {
			t.Errorf("statfs waiting on the aborted mount: %v, want ENOTCONN", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("statfs waiting on the mount still blocked after --force")
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted after --force", dir)
	}
	d.signal(t, syscall.SIGCONT)
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit %d once continued after --force; stderr:\n%s", code, d.errw)
	}
}

// TestE2EUmountForceRefuses: --force aborts btfuse mounts only.
func TestE2EUmountForceRefuses(t *testing.T) {
	testutil.RequirePrivileged(t)
	tmpfs := testutil.TmpfsDir(t)
	runtime := filepath.Join(t.TempDir(), "run")
	code, _, errOut := runBtfuse(t, runtime, "umount", "--force", tmpfs)
	if code == 0 || !strings.Contains(errOut, "is a tmpfs mount, not a btfuse one") || !isMounted(t, tmpfs) {
		t.Errorf("umount --force of a tmpfs: exit %d, stderr %q, still mounted %v", code, errOut, isMounted(t, tmpfs))
	}
	code, _, errOut = runBtfuse(t, runtime, "umount", "--force", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "nothing is mounted at") {
		t.Errorf("umount --force of a plain directory: exit %d, stderr %q", code, errOut)
	}
}

// TestE2EUmountLazy: --lazy detaches a busy mount at once, and the daemon
// goes on serving what is open under it (a directory descriptor, through
// which new lookups reach it) until the last is closed; then it exits.
// An idle mount is simply unmounted.
func TestE2EUmountLazy(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	code, out, errOut := runBtfuse(t, runtime, "umount", "--lazy", dir)
	if code != 0 || !strings.Contains(out, "detached "+dir) {
		t.Fatalf("umount --lazy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still in the mount table after --lazy", dir)
	}
	select {
	case <-d.exited:
		t.Fatalf("daemon exited while a directory under its detached mount was open; stderr:\n%s", d.errw)
	default:
	}
	fd, err := unix.Openat(int(held.Fd()), "f", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open through the detached mount: %v", err)
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(fd, buf)
	unix.Close(fd)
	if string(buf[:n]) != "kept\n" {
		t.Errorf("read through the detached mount: %q", buf[:n])
	}
	held.Close()
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit %d after the last file under its detached mount was closed; stderr:\n%s", code, d.errw)
	}

	dir2, runtime2 := mountDirs(t)
	d2 := startDaemon(t, runtime2, dir2)
	code, out, errOut = runBtfuse(t, runtime2, "umount", "--lazy", dir2)
	if code != 0 || !strings.Contains(out, "unmounted "+dir2) {
		t.Fatalf("umount --lazy of an idle mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code := d2.wait(t); code != 0 {
		t.Errorf("daemon exit %d; stderr:\n%s", code, d2.errw)
	}
}

// waitStopped waits until every thread of pid is stopped by a signal.
func waitStopped(tb testing.TB, pid int) {
	tb.Helper()
	for range 1000 {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, p := range tasks {
			b, _ := os.ReadFile(p)
			if i := strings.LastIndexByte(string(b), ')'); i < 0 || !strings.HasPrefix(string(b[i:]), ") T") {
				stopped = false
			}
		}
		if stopped {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("pid %d did not stop", pid)
}

// TestE2EMountOnHungMount: mounting over a btfuse mount whose daemon
// hangs (another registry's, stopped) fails and points at
// 'btfuse umount --force', which is what releases it.
func TestE2EMountOnHungMount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	d.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGCONT) })
	waitStopped(t, d.cmd.Process.Pid)
	other := filepath.Join(t.TempDir(), "other")
	code, _, errOut := runBtfuse(t, other, "mount", dir)
	if code == 0 || !strings.Contains(errOut, "does not answer") || !strings.Contains(errOut, "btfuse umount --force "+dir) {
		t.Fatalf("mount over a hung btfuse mount: exit %d, stderr %q; want advice to use btfuse umount --force", code, errOut)
	}
	if code, out, errOut := runBtfuse(t, other, "umount", "--force", dir); code != 0 {
		t.Fatalf("umount --force: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
}
