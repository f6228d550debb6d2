package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/launcher"
	"github.com/btfuse/btfuse/supervisor"
)

func TestE2ERunEmbedded(t *testing.T) {
	testutil.RequirePrivileged(t)
	runtime := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runBtfuse(t, runtime, "run", "--", "sh", "-c", `echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"; exit 3`)
	if code != 3 || out != "hi\n" {
		t.Fatalf("btfuse run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(errOut, "btfuse run: filesystem at "))
	if !strings.HasPrefix(errOut, "btfuse run: filesystem at ") {
		t.Errorf("stderr does not name the directory: %q", errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted after run", dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary mount directory left behind: %v", err)
	}
}

func TestE2ERunAttached(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	if err := os.WriteFile(filepath.Join(dir, "fromfuse"), []byte("fuse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c",
		`cat "$BTFUSE_MOUNT/fromfuse"; echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"`)
	if code != 0 || out != "fuse\nhi\n" {
		t.Fatalf("btfuse run --mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, "filesystem at") {
		t.Errorf("run mounted its own filesystem instead of attaching: %q", errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("through FUSE: %q, %v", b, err)
	}
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount: %d %s", code, errOut)
	}
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit %d; stderr:\n%s", code, d.errw)
	}
}

// TestE2ERunLowSoftNofile runs btfuse with a soft RLIMIT_NOFILE under its
// hard one, the usual case under systemd (1024 of 524288). The Go runtime
// raises its own soft limit to the hard one at start-up and puts the
// original back in the programs it execs, so the reserved descriptor range
// must lie under the original: above it, every served open fell back to
// the lowest free descriptor, outside the range the filter watches, and
// fstat on it answered the backing file's device and inode. The fast lane
// is off: an open for writing takes the channel, which installs no
// descriptor in the range.
func TestE2ERunLowSoftNofile(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3")
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max < 1024 {
		t.Fatalf("hard RLIMIT_NOFILE %d: the test needs 1024", rl.Max)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	const soft = 512
	base, size := supervisor.ReservedRange(soft)
	script := `
import os, resource, sys
p = os.path.join(os.environ["BTFUSE_MOUNT"], "f")
with open(p, "w") as f:
    f.write("x")
fd = os.open(p, os.O_RDONLY)
a, b = os.fstat(fd), os.stat(p)
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], fd, a.st_dev == b.st_dev, a.st_ino == b.st_ino)
`
	// The reserved range is the seccomp lane's: --no-fast-lane, or the
	// channel answers the open with a descriptor of its own, at the lowest
	// free number (as soon as the process makes more calls under the
	// mount than BTFUSE_FAST_AFTER).
	for _, mode := range []string{"attached", "embedded"} {
		args := []string{"run", "--no-fast-lane", "--mount", dir, "--", "python3", "-c", script}
		if mode == "embedded" {
			args = []string{"run", "--no-fast-lane", "--", "python3", "-c", script}
		}
		cmd := btfuse(runtime, args...)
		cmd.Args = append([]string{"sh", "-c", `ulimit -Sn ` + strconv.Itoa(soft) + ` && exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = "/bin/sh"
		code, out, errOut := runToEnd(t, cmd)
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", mode, code, errOut)
		}
		var gotSoft, fd int
		var sameDev, sameIno string
		if _, err := fmt.Sscan(out, &gotSoft, &fd, &sameDev, &sameIno); err != nil {
			t.Fatalf("%s: output %q: %v", mode, out, err)
		}
		if gotSoft != soft {
			t.Errorf("%s: the command's soft limit is %d, want the one btfuse started with, %d", mode, gotSoft, soft)
		}
		if fd < base || fd >= base+size {
			t.Errorf("%s: served fd %d outside the reserved range [%d, %d)", mode, fd, base, base+size)
		}
		if sameDev != "True" || sameIno != "True" {
			t.Errorf("%s: fstat of the served fd differs from stat of its path (same dev %s, same ino %s)", mode, sameDev, sameIno)
		}
	}
}

// TestE2ERunCommandNotExecutable checks the launcher child's own path
// search (launch_child.c): the exit codes and messages a shell gives.
func TestE2ERunCommandNotExecutable(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	noexec := filepath.Join(t.TempDir(), "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  string
		code int
		msg  string
	}{
		{"btfuse-no-such-command", 127, "btfuse run: btfuse-no-such-command: command not found\n"},
		{"/nonexistent/cmd", 127, "btfuse run: /nonexistent/cmd: command not found\n"},
		{noexec, 126, "btfuse run: " + noexec + ": Permission denied\n"},
		{t.TempDir(), 126, ": Permission denied\n"},
	} {
		code, out, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", c.cmd)
		if code != c.code || out != "" || !strings.HasSuffix(errOut, c.msg) {
			t.Errorf("run %s: exit %d, stdout %q, stderr %q; want exit %d and %q", c.cmd, code, out, errOut, c.code, c.msg)
		}
	}
}

// TestE2EChildEnvNotASocket: the launcher child's constructor
// (launcher/launch_child.c) runs in every btfuse process that has
// BTFUSE_SUPERVISED_CHILD set, before the Go runtime. Set by hand to a
// descriptor that is not the launcher's socket, it refuses with a message
// instead of reading a filter from it.
func TestE2EChildEnvNotASocket(t *testing.T) {
	cmd := btfuse(t.TempDir(), "--version")
	cmd.Env = append(cmd.Env, launcher.ChildEnv+"=0")
	code, out, errOut := runToEnd(t, cmd)
	if code != 126 || out != "" || !strings.Contains(errOut, "is not the launcher's socket") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestE2ERunAllowOther: the mount run makes itself is its owner's alone
// unless --allow-other is given, as with 'btfuse mount'; the mount line
// says which.
func TestE2ERunAllowOther(t *testing.T) {
	testutil.RequirePrivileged(t)
	runtime := filepath.Join(t.TempDir(), "run")
	script := `grep " $BTFUSE_MOUNT " /proc/self/mountinfo`
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--", "sh", "-c", script}, false},
		{[]string{"run", "--allow-other", "--", "sh", "-c", script}, true},
	} {
		code, out, errOut := runBtfuse(t, runtime, tc.args...)
		if code != 0 || !strings.Contains(out, "fuse.btfuse") {
			t.Fatalf("btfuse %v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
		if got := strings.Contains(out, "allow_other"); got != tc.want {
			t.Errorf("btfuse %v: allow_other in the mount line = %v, want %v: %s", tc.args, got, tc.want, out)
		}
	}
}

// TestE2ERunRefusesDir: btfuse run does not mount its own filesystem on a
// directory that is not empty, nor inside another btfuse mount; it did,
// silently, and what was there (and what the command wrote) vanished.
func TestE2ERunRefusesDir(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	full := filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runBtfuse(t, runtime, "run", "--mount", full, "--", "true")
	if code == 0 || !strings.Contains(errOut, "is not empty") {
		t.Errorf("run --mount on a full directory: exit %d, %q", code, errOut)
	}
	if isMounted(t, full) {
		t.Errorf("%s mounted", full)
	}
	startDaemon(t, runtime, dir)
	inner := filepath.Join(dir, "sub")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runBtfuse(t, runtime, "run", "--mount", inner, "--", "true")
	if code == 0 || !strings.Contains(errOut, "inside the btfuse mount") {
		t.Errorf("run --mount inside a served mount: exit %d, %q", code, errOut)
	}
	if isMounted(t, inner) {
		t.Errorf("%s mounted", inner)
	}
}
