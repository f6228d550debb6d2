package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/internal/testutil"
)

func TestHelperArgs(t *testing.T) {
	tests := []struct {
		args []string
		want []string
		fake bool
		err  string
	}{
		{args: []string{"mem", "/mnt/m", "-o", "rw,size=64M"}, want: []string{"mount", "--daemon", "-o", "rw,size=64M", "-o", "fsname=mem", "--", "/mnt/m"}},
		{args: []string{"none", "/mnt/m"}, want: []string{"mount", "--daemon", "--", "/mnt/m"}},
		{args: []string{"mem", "/mnt/m", "-nv", "-oro", "-t", "fuse.btfuse"}, want: []string{"mount", "--daemon", "-o", "ro", "-o", "fsname=mem", "--verbose", "--", "/mnt/m"}},
		{args: []string{"mem", "/mnt/m", "-s", "-o", "x"}, want: []string{"mount", "--daemon", "-o", "x", "-o", "fsname=mem", "--sloppy", "--", "/mnt/m"}},
		{args: []string{"mem", "/mnt/m", "-f"}, want: []string{"mount", "--daemon", "-o", "fsname=mem", "--", "/mnt/m"}, fake: true},
		{args: []string{"mem"}, err: "want SPEC and DIR, got 1 arguments"},
		{args: []string{"mem", "/mnt/m", "-o"}, err: "-o needs a value"},
		{args: []string{"mem", "/mnt/m", "-t", "fuse.sshfs"}, err: "mounts fuse.btfuse only"},
		{args: []string{"mem", "/mnt/m", "-N", "/proc/1/ns/mnt"}, err: "-N (mount in another namespace) is not supported"},
		{args: []string{"mem", "/mnt/m", "-x"}, err: "unknown flag -x"},
	}
	for _, tt := range tests {
		got, fake, err := helperArgs(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("helperArgs(%q): %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || fake != tt.fake || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("helperArgs(%q) = %q, fake %v, %v; want %q, fake %v", tt.args, got, fake, err, tt.want, tt.fake)
		}
	}
}

// sbinHelper is where mount(8) finds the helper of fuse.btfuse. It must
// be /sbin itself: mount(8) tries /sbin/mount.fuse.btfuse, then
// /sbin/mount.fuse (libfuse's, which runs a program named btfuse from
// PATH), and only then /sbin/fs.d.
const sbinHelper = "/sbin/" + helperName

// installTestHelper links /sbin/mount.fuse.btfuse to this test binary for
// the test's life. An existing one is not this test's to replace.
func installTestHelper(t *testing.T) {
	t.Helper()
	if _, err := os.Lstat(sbinHelper); err == nil {
		t.Fatalf("%s exists already (%s); this test installs its own and will not replace it", sbinHelper, describeLink(sbinHelper))
	}
	if err := os.Symlink(os.Args[0], sbinHelper); err != nil {
		t.Fatalf("install the test helper: %v", err)
	}
	t.Cleanup(func() {
		if l, err := os.Readlink(sbinHelper); err == nil && l == os.Args[0] {
			os.Remove(sbinHelper)
		}
	})
}

// mountCmd runs mount(8) (or umount(8)) with args, its helper acting as
// btfuse with the registry in runtime.
func mountCmd(t *testing.T, runtime, prog string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = btfuse(runtime).Env
	return runToEnd(t, cmd)
}

// helperDaemon finds the pid a mount through the helper printed, and kills
// that daemon at cleanup if it still runs.
func helperDaemon(t *testing.T, out, dir string) int {
	t.Helper()
	m := servingBG.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no serving line in mount's output %q", out)
	}
	pid, _ := strconv.Atoi(m[2])
	t.Cleanup(func() { killBackground(pid, dir) })
	return pid
}

// TestE2EMountHelper mounts through mount(8): 'mount -t fuse.btfuse' with
// -o options, and an fstab line through 'mount -T FILE' with the options
// mount(8) and other programs read (defaults, noauto, nofail, x-*); plain
// umount(8) stops the daemon. An unknown option fails with its name.
func TestE2EMountHelper(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "mount")
	installTestHelper(t)
	dir, runtime := mountDirs(t)

	code, out, errOut := mountCmd(t, runtime, "mount", "-t", "fuse.btfuse", "mem", dir, "-o", "size=64M,mode=1777,uid=65534,gid=65534,noauto,_netdev")
	if code != 0 {
		t.Fatalf("mount -t fuse.btfuse: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	pid := helperDaemon(t, out, dir)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil || st.Mode != unix.S_IFDIR|0o1777 || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("root: mode %#o uid %d gid %d (%v); want 01777 65534 65534", st.Mode, st.Uid, st.Gid, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil || uint64(sfs.Blocks)*uint64(sfs.Bsize) != 64<<20 {
		t.Errorf("statfs: %d blocks of %d (%v); want 64 MiB", sfs.Blocks, sfs.Bsize, err)
	}
	if m := mountLine(t, dir); m == nil || m[0] != "fuse.btfuse" || m[1] != "mem" {
		t.Errorf("mount table: %q, want fuse.btfuse from mem", m)
	}
	if code, out, errOut := runBtfuse(t, runtime, "status", dir); code != 0 || !strings.Contains(out, fmt.Sprintf("pid %d", pid)) {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := mountCmd(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount(8): exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	waitExit(t, pid)

	fstab := filepath.Join(t.TempDir(), "fstab")
	line := fmt.Sprintf("mem2 %s fuse.btfuse defaults,noauto,nofail,x-btfuse.note=1,size=32M,ro 0 0\n", dir)
	if err := os.WriteFile(fstab, []byte("# test fstab\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = mountCmd(t, runtime, "mount", "-T", fstab, dir)
	if code != 0 {
		t.Fatalf("mount -T %s (%q): exit %d, stdout %q, stderr %q", fstab, line, code, out, errOut)
	}
	pid = helperDaemon(t, out, dir)
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("create in the ro mount: %v, want EROFS", err)
	}
	if ms, err := mountinfo.Read(); err != nil || mountinfo.At(ms, dir) == nil || !mountinfo.At(ms, dir).HasOpt("ro") {
		t.Errorf("the fstab mount is not ro in the mount table (its per-mount flag, which run reads) (%v)", err)
	}
	// run steps aside on a read-only mount: the kernel answers EROFS.
	if code, _, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c", `: > "$BTFUSE_MOUNT/g"`); code == 0 || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("create under run in the ro mount: exit %d, stderr %q; want EROFS", code, errOut)
	}
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("btfuse umount: exit %d, %s", code, errOut)
	}
	waitExit(t, pid)

	code, out, errOut = mountCmd(t, runtime, "mount", "-t", "fuse.btfuse", "mem", dir, "-o", "size=1M,bogus")
	if code == 0 || !strings.Contains(errOut, "-o bogus: unknown mount option") || isMounted(t, dir) {
		t.Errorf("mount -o bogus: exit %d, stdout %q, stderr %q, mounted %v", code, out, errOut, isMounted(t, dir))
	}
}

// mountLine returns the filesystem type and source of the mount at dir.
func mountLine(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 9 && f[4] == dir {
			for i, x := range f {
				if x == "-" && i+2 < len(f) {
					return []string{f[i+1], f[i+2]}
				}
			}
		}
	}
	return nil
}

// waitExit waits until a background daemon has exited.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	for range 3000 {
		if !pidIsBtfuse(pid) {
			return
		}
		unixSleep()
	}
	t.Fatalf("daemon pid %d did not exit", pid)
}

// TestInstallHelper: install-helper links, says so when the link is
// there, refuses to replace anything else, and removes only a link.
func TestInstallHelper(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string, string) {
		return runBtfuse(t, filepath.Join(t.TempDir(), "run"), append([]string{"install-helper", "--dir", dir}, args...)...)
	}
	link := filepath.Join(dir, helperName)
	self, _ := filepath.EvalSymlinks(os.Args[0])
	if code, out, errOut := run(); code != 0 || !strings.Contains(out, link+" -> ") {
		t.Fatalf("install-helper: %d %q %q", code, out, errOut)
	}
	if l, err := os.Readlink(link); err != nil || l != self {
		t.Errorf("link %q (%v), want %q", l, err, self)
	}
	if code, out, _ := run(); code != 0 || !strings.Contains(out, "already links") {
		t.Errorf("second install-helper: %d %q", code, out)
	}
	if code, _, _ := run("--remove"); code != 0 {
		t.Errorf("--remove failed")
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link left after --remove: %v", err)
	}
	os.WriteFile(link, []byte("not ours"), 0o755)
	if code, _, errOut := run(); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("install-helper over a file: %d %q", code, errOut)
	}
	if code, _, errOut := run("--remove"); code == 0 || !strings.Contains(errOut, "not a symbolic link") {
		t.Errorf("--remove of a file: %d %q", code, errOut)
	}
	if b, _ := os.ReadFile(link); string(b) != "not ours" {
		t.Errorf("the file was touched: %q", b)
	}
}

func unixSleep() { time.Sleep(10 * time.Millisecond) }
