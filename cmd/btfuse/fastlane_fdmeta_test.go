package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestRunFastLaneFdMeta: on a descriptor the library opened (the backing
// file, at a number the seccomp filter does not notify) fchmod, fchown,
// fchownat and statx with AT_EMPTY_PATH, the f*xattr calls and fstatfs
// act on the filesystem's file as the kernel's do on a tmpfs file, seen by
// path afterwards, through a duplicate and on an unlinked file; and the
// channel, not the kernel, answered them.
func TestRunFastLaneFdMeta(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flfdmeta")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	before := map[string]uint64{}
	ops := []string{"fchmod@fast", "fchown@fast", "fsetxattr@fast", "fgetxattr@fast", "flistxattr@fast",
		"fremovexattr@fast", "fstatfs@fast"}
	for _, op := range ops {
		before[op] = notified(t, runtime, dir, op)
	}
	laneDiff(t, runtime, dir, helper, "fdmeta")
	for _, op := range ops {
		if got := notified(t, runtime, dir, op) - before[op]; got == 0 {
			t.Errorf("the channel saw no %s", op)
		}
	}
}

// TestRunFastLaneCpA: 'cp -a' into the mount, whose copy the library
// opens, keeps the source's mode, owner and extended attribute (cp sets
// them through the descriptor: fchown, fchmod, fsetxattr).
func TestRunFastLaneCpA(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "cp")
	src := filepath.Join(testutil.TmpfsDir(t), "src")
	if err := os.WriteFile(src, []byte("data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(src, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(src, "user.k", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	dst := filepath.Join(dir, "dst")
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{"cp", "-a", src, dst})...)
	if code != 0 {
		t.Fatalf("cp -a: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var st unix.Stat_t
	if err := unix.Stat(dst, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o751 || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("copy: mode %04o uid %d gid %d, want 0751 1000 1000", st.Mode&0o7777, st.Uid, st.Gid)
	}
	v := make([]byte, 16)
	n, err := unix.Getxattr(dst, "user.k", v)
	if err != nil || string(v[:n]) != "v1" {
		t.Errorf("copy's user.k: %q, %v; want v1", v[:max(n, 0)], err)
	}
}

// TestRunSeccompFdMeta: the same descriptor calls on the seccomp lane's
// own descriptors (--no-fast-lane) return what the kernel returns in a
// tmpfs too (fstatfs and fchownat with AT_EMPTY_PATH reached the backing
// file); without the steps on a duplicate, which leaves the lane's
// reserved range (README: a copy of a served descriptor outside it).
func TestRunSeccompFdMeta(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flfdmeta")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(helper, ref, "nodup").Output()
	if err != nil {
		t.Fatalf("flfdmeta natively: %v\n%s", err, want)
	}
	under := filepath.Join(dir, "fdmeta")
	if err := os.Mkdir(under, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runIn(t, runtime, nil, withMount(dir, []string{"--no-fast-lane", "--", helper, under, "nodup"})...)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if d := lineDiff(string(want), out); d != "" {
		t.Errorf("differs from the kernel without btfuse (-kernel +run):\n%s", d)
	}
}
