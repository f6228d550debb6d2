package fuseserve_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestMountDevSUID: by default the mount is nosuid,nodev, like a tmpfs
// mounted so; with Options.Dev and SUID it honours device nodes and setuid
// bits like a tmpfs mounted without them. Compared: the flags on the
// mount line, opening a device node (/dev/null's, c 1 3) made in the
// mount, and the effective uid that a setuid-root copy of id gives nobody.
func TestMountDevSUID(t *testing.T) {
	testutil.RequireProgram(t, "id")
	for _, tc := range []struct {
		name      string
		dev, suid bool
		flags     uintptr // of the reference tmpfs
	}{
		{"default", false, false, unix.MS_NOSUID | unix.MS_NODEV},
		{"dev", true, false, unix.MS_NOSUID},
		{"suid", false, true, unix.MS_NODEV},
		{"dev,suid", true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := devSUIDTranscript(t, tmpfsWithFlags(t, tc.flags))
			b := testutil.StartBtfuse(t, testutil.WithServeOptions(func(o *fuseserve.Options) {
				o.Dev, o.SUID = tc.dev, tc.suid
			}))
			if got := devSUIDTranscript(t, b.Dir); !slices.Equal(got, want) {
				t.Errorf("btfuse and tmpfs differ:\nbtfuse: %q\ntmpfs:  %q", got, want)
			}
		})
	}
}

// tmpfsWithFlags mounts a tmpfs with the mount flags given on a fresh
// directory that any user may reach; it is unmounted when the test ends.
func tmpfsWithFlags(t *testing.T, flags uintptr) string {
	t.Helper()
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// devSUIDTranscript reports the nosuid and nodev flags of the mount at
// dir, what opening, writing and reading a null device node made there
// give, and the effective uid of a setuid-root copy of id run as nobody.
func devSUIDTranscript(t *testing.T, dir string) []string {
	t.Helper()
	out := []string{"mount flags: " + testutil.MountFlags(t, dir)}
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	if fd, err := unix.Open(null, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		out = append(out, "open device: "+errnoOf(err).Error())
	} else {
		n, werr := unix.Write(fd, []byte("x"))
		m, rerr := unix.Read(fd, make([]byte, 1))
		unix.Close(fd)
		out = append(out, fmt.Sprintf("device: wrote %d (%v), read %d (%v)", n, werr, m, rerr))
	}
	idPath, err := exec.LookPath("id")
	if err != nil {
		t.Fatal(err)
	}
	id := filepath.Join(dir, "id")
	testutil.CopyExecutable(t, idPath, id)
	if err := os.Chown(id, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(id, 0o4755); err != nil {
		t.Fatal(err)
	}
	// Through sh: a Go process must not exec a file from a FUSE mount it
	// serves itself. Go forks with vfork, and a garbage collection that
	// starts meanwhile waits for the suspended thread, while the child's
	// exec waits for this process to answer its OPEN.
	cmd := exec.Command("sh", "-c", `exec "$0" -u`, id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	euid, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -u as nobody: %v", id, err)
	}
	return append(out, "setuid-root id -u as nobody: "+strings.TrimSpace(string(euid)))
}
