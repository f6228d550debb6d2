package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

func TestE2EMountWriteReadUmount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir, "--size", "64M", "--inodes", "10k")
	if !strings.Contains(d.out.String(), "FUSE data: ") || !strings.Contains(d.out.String(), "backing: ") {
		t.Errorf("the serving line does not name backing and data mode: %q", d.out)
	}
	p := filepath.Join(dir, "sub", "file")
	if err := os.Mkdir(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("mkdir through the mount: %v", err)
	}
	if err := os.WriteFile(p, []byte("through fuse\n"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "through fuse\n" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if n, err := os.ReadDir(runtime); err != nil || len(n) != 3 {
		t.Errorf("registry holds %v (%v), want lock, socket and info", n, err)
	}

	code, out, errOut := runBtfuse(t, runtime, "umount", dir)
	if code != 0 || !strings.Contains(out, "unmounted "+dir) {
		t.Fatalf("btfuse umount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit code %d after umount, want 0; stderr:\n%s", code, d.errw)
	}
	// The two often share a terminal: one of them says it, once.
	if both := d.out.String() + d.errw.String(); strings.Contains(both, "unmounted") {
		t.Errorf("the daemon says it was unmounted too, after btfuse umount did: %q", both)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted after umount", dir)
	}
	if n, _ := os.ReadDir(runtime); len(n) != 0 {
		t.Errorf("registry not cleaned after umount: %v", n)
	}
}

// TestE2ESignalsUnmount: SIGTERM, SIGINT and SIGHUP (the terminal was
// closed) each unmount cleanly and exit 0.
func TestE2ESignalsUnmount(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir, runtime := mountDirs(t)
			d := startDaemon(t, runtime, dir)
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			d.signal(t, sig)
			if code := d.wait(t); code != 0 {
				t.Errorf("exit code %d after %v, want 0; stderr:\n%s", code, sig, d.errw)
			}
			if isMounted(t, dir) {
				t.Errorf("%s still mounted after %v", dir, sig)
			}
			if n, _ := os.ReadDir(runtime); len(n) != 0 {
				t.Errorf("registry not cleaned: %v", n)
			}
		})
	}
}

func TestE2EBusyMountDetachedOnSignal(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	// A process whose working directory is the mount keeps it busy.
	holder := exec.Command("sleep", "60")
	holder.Dir = dir
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t); code != 0 {
		t.Errorf("exit code %d with a busy mount, want 0; stderr:\n%s", code, d.errw)
	}
	if !strings.Contains(d.errw.String(), "busy; detached it lazily") {
		t.Errorf("stderr does not say the mount was detached: %q", d.errw)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still in the mount table", dir)
	}
}

func TestE2EExternalUnmount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatalf("umount %s: %v", dir, err)
	}
	if code := d.wait(t); code != 0 {
		t.Errorf("exit code %d after an external umount, want 0; stderr:\n%s", code, d.errw)
	}
}

func TestE2EBadMountpoint(t *testing.T) {
	testutil.RequirePrivileged(t)
	base := t.TempDir()
	runtime := filepath.Join(base, "run")
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	tmpfs := testutil.TmpfsDir(t)
	busyDir, _ := mountDirs(t)
	startDaemon(t, runtime, busyDir)

	tests := []struct {
		name string
		args []string
		want string
		not  string // must not be said
	}{
		{"missing", []string{"mount", filepath.Join(base, "nope")}, "mount point " + filepath.Join(base, "nope") + " does not exist: create it", ""},
		{"file", []string{"mount", file}, "mount point " + file + " is not a directory", ""},
		// btfuse umount refuses a tmpfs: it must not be the advice.
		{"tmpfs mounted", []string{"mount", tmpfs}, tmpfs + " is already mounted (tmpfs", "btfuse umount"},
		{"btfuse mounted", []string{"mount", busyDir}, "already serves " + busyDir, ""},
		{"bad size", []string{"mount", "--size", "lots", base}, `invalid size "lots"`, ""},
		{"no dir", []string{"mount"}, "usage: btfuse mount DIR", ""},
		{"umount nothing", []string{"umount", base}, "no btfuse daemon serves " + base + " and nothing is mounted there", ""},
		{"umount tmpfs", []string{"umount", tmpfs}, "is a tmpfs mount, not a btfuse one", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runBtfuse(t, runtime, tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) || (tt.not != "" && strings.Contains(errOut, tt.not)) {
				t.Errorf("btfuse %v: exit %d, stderr %q; want non-zero and %q, without %q", tt.args, code, errOut, tt.want, tt.not)
			}
		})
	}
}

// killDaemon leaves a stale mount at dir: the daemon dies by SIGKILL, its
// FUSE connection goes with it, and statfs answers ENOTCONN (stat may
// still answer from the attribute cache for a second).
func killDaemon(t *testing.T, d *daemonProc) {
	t.Helper()
	d.signal(t, syscall.SIGKILL)
	d.wait(t)
	var st unix.Statfs_t
	if err := unix.Statfs(d.dir, &st); !errors.Is(err, unix.ENOTCONN) {
		t.Fatalf("statfs of the mount of a killed daemon: %v, want ENOTCONN", err)
	}
}

func TestE2EStaleMountClearedByMount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	killDaemon(t, startDaemon(t, runtime, dir))

	d := startDaemon(t, runtime, dir)
	if !strings.Contains(d.errw.String(), "cleared a stale FUSE mount at "+dir) {
		t.Errorf("second daemon did not say it cleared the stale mount; stderr:\n%s", d.errw)
	}
	p := filepath.Join(dir, "again")
	if err := os.WriteFile(p, []byte("ok"), 0o644); err != nil {
		t.Fatalf("write through the new mount: %v", err)
	}
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount: exit %d: %s", code, errOut)
	}
	if code := d.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
}

func TestE2EStaleMountClearedByUmount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	killDaemon(t, startDaemon(t, runtime, dir))

	code, out, errOut := runBtfuse(t, runtime, "umount", dir)
	if code != 0 || !strings.Contains(out, "cleared the stale FUSE mount") {
		t.Fatalf("umount of a stale mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
	if n, _ := os.ReadDir(runtime); len(n) != 0 {
		t.Errorf("the dead daemon's registry entry is left: %v", n)
	}
}

// TestE2EHungMountAbortedByUmount stops a daemon (SIGSTOP) so that its
// mount hangs, and asks a btfuse that does not know the daemon (another
// registry) to unmount it: the connection must be aborted through fusectl
// and the mount detached.
func TestE2EHungMountAbortedByUmount(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	d.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGCONT) })

	code, out, errOut := runBtfuse(t, filepath.Join(t.TempDir(), "other"), "umount", dir)
	if code != 0 || !strings.Contains(out, "connection aborted") {
		t.Fatalf("umount of a hung mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
	// The daemon, once it runs again, finds its mount gone and exits.
	d.signal(t, syscall.SIGCONT)
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit code %d after its mount was aborted; stderr:\n%s", code, d.errw)
	}
}
