package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestRunDeviceFollowsMountFlags: under run, an open of a device node in
// the mount goes to the kernel, which opens it through the FUSE mount: it
// works when the mount is dev and is EACCES when it is nodev, as natively
// on a tmpfs with the same flag.
func TestRunDeviceFollowsMountFlags(t *testing.T) {
	const script = `echo x > "$D/null" && head -c 1 "$D/null" && echo opened`
	for _, dev := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev=%v", dev), func(t *testing.T) {
			flags := uintptr(unix.MS_NODEV)
			if dev {
				flags = 0
			}
			ref := testutil.TmpfsDir(t)
			if err := unix.Mount("", ref, "", unix.MS_REMOUNT|flags, "mode=0755"); err != nil {
				t.Fatalf("remount tmpfs: %v", err)
			}
			mustMknodNull(t, ref)
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append(os.Environ(), "D="+ref)
			wantOut, err := cmd.Output()
			wantCode := 0
			if err != nil {
				wantCode = cmd.ProcessState.ExitCode()
			}
			if (wantCode == 0) != dev {
				t.Fatalf("natively on tmpfs (dev %v): exit %d, %q", dev, wantCode, wantOut)
			}

			s := startSupervised(t, testutil.WithServeOptions(func(o *fuseserve.Options) { o.Dev = dev }))
			mustMknodNull(t, s.mount)
			code, out, errs := s.run(t, []string{"sh", "-c", script}, "D="+s.mount)
			if code != wantCode || out != string(wantOut) {
				t.Errorf("under run: exit %d, %q (stderr %q); natively on tmpfs: exit %d, %q", code, out, errs, wantCode, wantOut)
			}
		})
	}
}

// TestRunSUIDFollowsMountFlags: under run, execve goes to the kernel, so a
// setuid-root program in the mount gives a process that dropped to nobody
// euid 0 only when the mount is suid, as natively on a tmpfs with the same
// flag.
func TestRunSUIDFollowsMountFlags(t *testing.T) {
	testutil.RequireProgram(t, "setpriv", "id")
	const script = `setpriv --reuid=65534 --regid=65534 --clear-groups "$D/id" -u`
	idPath, err := exec.LookPath("id")
	if err != nil {
		t.Fatal(err)
	}
	setuidID := func(dir string) {
		p := filepath.Join(dir, "id")
		testutil.CopyExecutable(t, idPath, p)
		if err := unix.Chmod(p, 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	for _, suid := range []bool{false, true} {
		t.Run(fmt.Sprintf("suid=%v", suid), func(t *testing.T) {
			flags := uintptr(unix.MS_NOSUID)
			if suid {
				flags = 0
			}
			ref := testutil.TmpfsDir(t)
			if err := unix.Mount("", ref, "", unix.MS_REMOUNT|flags, "mode=0755"); err != nil {
				t.Fatalf("remount tmpfs: %v", err)
			}
			setuidID(ref)
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append(os.Environ(), "D="+ref)
			want, err := cmd.Output()
			if err != nil || (string(want) == "0\n") != suid {
				t.Fatalf("natively on tmpfs (suid %v): %q, %v", suid, want, err)
			}

			s := startSupervised(t, testutil.WithServeOptions(func(o *fuseserve.Options) { o.SUID = suid }))
			setuidID(s.mount)
			code, out, errs := s.run(t, []string{"sh", "-c", script}, "D="+s.mount)
			if code != 0 || out != string(want) {
				t.Errorf("under run: exit %d, %q (stderr %q); natively on tmpfs: %q", code, out, errs, want)
			}
		})
	}
}

// mustMknodNull makes a node of /dev/null's device (c 1 3), mode 0666, in
// dir.
func mustMknodNull(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "null")
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod %s: %v", p, err)
	}
	if err := unix.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
}
