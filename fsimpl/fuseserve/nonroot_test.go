package fuseserve_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestNonRootMount re-executes the test binary as uid 1000, which mounts
// through fusermount3 and must come up in close-to-open mode, saying why.
func TestNonRootMount(t *testing.T) {
	testutil.RequirePrivileged(t)
	if _, err := exec.LookPath("fusermount3"); err != nil {
		testutil.SkipOrFail(t, "fusermount3 is missing (.ci/setup installs fuse3)")
	}
	// The test binary lives in a 0700 build directory: copy it out.
	tmp := t.TempDir()
	os.Chmod(tmp, 0o755)
	os.Chmod(filepath.Dir(tmp), 0o755) // testing makes it 0700
	bin := filepath.Join(tmp, "fuseserve.test")
	testutil.CopyExecutable(t, os.Args[0], bin)
	mnt := filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(mnt, userUID, userGID)
	cmd := exec.Command(bin, "-test.run=^TestNonRootHelper$", "-test.v")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: userUID, Gid: userGID}}
	var st unix.Stat_t
	if err := unix.Stat("/dev/fuse", &st); err == nil && st.Mode&0o006 != 0o006 {
		// fusermount3 opens /dev/fuse with the user's privileges, and
		// here it is root-only. Give the helper a world-usable node of
		// the same device in a private mount namespace instead.
		for _, tool := range []string{"unshare", "setpriv"} {
			if _, err := exec.LookPath(tool); err != nil {
				testutil.SkipOrFail(t, "/dev/fuse is not usable by others and "+tool+" is missing")
			}
		}
		node := filepath.Join(tmp, "fuse")
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(st.Rdev)); err != nil {
			t.Fatal(err)
		}
		os.Chmod(node, 0o666)
		cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" /dev/fuse && exec setpriv --reuid=$2 --regid=$2 --clear-groups "$3" -test.run='^TestNonRootHelper$' -test.v`,
			"sh", node, fmt.Sprint(userUID), bin)
	}
	cmd.Env = append(os.Environ(), "BTFUSE_NONROOT_HELPER="+mnt, "HOME="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestNonRootHelper") {
		t.Fatal("helper did not pass")
	}
}

// TestNonRootHelper is the unprivileged side of TestNonRootMount.
func TestNonRootHelper(t *testing.T) {
	mnt := os.Getenv("BTFUSE_NONROOT_HELPER")
	if mnt == "" {
		t.Skip("only run by TestNonRootMount")
	}
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	// fsimpl makes the root root's; a daemon run by a user gives it to
	// the user (as the daemon does).
	in := &fsimpl.SetAttrIn{Valid: fsimpl.SetUID | fsimpl.SetGID, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if _, e := fs.SetAttr(fsimpl.Root, fsimpl.RootIno, in, nil); e != 0 {
		t.Fatal(e)
	}
	srv, err := fuseserve.Mount(mnt, fs, fuseserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	t.Logf("mode: %s; backing: %s", srv.Mode(), fs.BackingDescription())
	if srv.Passthrough() || !strings.HasPrefix(srv.Mode(), "close-to-open (no passthrough: ") {
		t.Errorf("unprivileged mount: Passthrough %v, Mode %q", srv.Passthrough(), srv.Mode())
	}
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, []byte("as a user"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "as a user" {
		t.Fatalf("read back %q, %v", b, err)
	}
}
