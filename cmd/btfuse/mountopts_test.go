package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestE2EMountOptionsDevSUID: 'btfuse mount -o dev,suid' mounts without
// nodev and nosuid (the mount line, the serving line and status say so),
// a device node in it opens through the FUSE door and under 'btfuse run';
// the default stays nosuid,nodev.
func TestE2EMountOptionsDevSUID(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, tc := range []struct {
		opts  []string
		flags string // on the mount line, of nosuid and nodev
		say   string // in the serving line and status
	}{
		{nil, "nosuid,nodev", "nosuid,nodev"},
		{[]string{"-o", "dev,suid"}, "", "suid,dev"},
	} {
		t.Run(strings.Join(tc.opts, " "), func(t *testing.T) {
			dir, runtime := mountDirs(t)
			d := startDaemon(t, runtime, dir, tc.opts...)
			if !strings.Contains(d.out.String(), "("+tc.say+";") {
				t.Errorf("the serving line does not say %s: %q", tc.say, d.out)
			}
			if got := testutil.MountFlags(t, dir); got != tc.flags {
				t.Errorf("mount line flags %q, want %q", got, tc.flags)
			}
			code, out, errOut := runBtfuse(t, runtime, "status", "--json", dir)
			var st []struct{ Flags string }
			if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st) != 1 || st[0].Flags != tc.say {
				t.Errorf("status --json: exit %d, %v, flags %+v, want %s; stderr %s", code, err, st, tc.say, errOut)
			}
			null := filepath.Join(dir, "null")
			if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
			werr := os.WriteFile(null, []byte("x"), 0)
			if (werr == nil) != (tc.flags == "") {
				t.Errorf("write to the device node through FUSE: %v", werr)
			}
			code, _, errOut = runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c", `echo x > "$BTFUSE_MOUNT/null"`)
			if (code == 0) != (tc.flags == "") {
				t.Errorf("write to the device node under run: exit %d, stderr %q", code, errOut)
			}
			if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
				t.Fatalf("umount: exit %d, %s", code, errOut)
			}
			d.wait(t)
		})
	}
}

// TestMountOptionsRefused: unknown -o options, and dev or suid asked for
// by another user than root, fail with a message and exit 1 before
// anything is mounted.
func TestMountOptionsRefused(t *testing.T) {
	testutil.RequirePrivileged(t)
	// The test binary sits in a 0700 build directory: copy it out.
	tmp := t.TempDir()
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(tmp, "btfuse")
	testutil.CopyExecutable(t, os.Args[0], bin)
	mnt := filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uid  uint32
		opt  string
		want string
	}{
		{0, "bogus", "-o bogus: unknown mount option"},
		{0, "dev,nope", "-o nope: unknown mount option"},
		{65534, "dev", "-o dev: only root may mount with dev"},
		{65534, "nodev,suid", "-o suid: only root may mount with suid"},
	} {
		cmd := exec.Command(bin, "mount", "-o", tc.opt, mnt)
		cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=1", "BTFUSE_RUNTIME_DIR="+filepath.Join(tmp, "run"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.uid}}
		code, _, errOut := runToEnd(t, cmd)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("uid %d: mount -o %s: exit %d, stderr %q; want exit 1 and %q", tc.uid, tc.opt, code, errOut, tc.want)
		}
		if isMounted(t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
			t.Fatalf("uid %d: mount -o %s mounted %s", tc.uid, tc.opt, mnt)
		}
	}
}
