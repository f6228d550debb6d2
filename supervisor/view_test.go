package supervisor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestRunMountedUnderDir: a filesystem mounted on a directory inside the
// mount hides what btfuse has there; under run, paths below it must reach
// that filesystem, as they do through the kernel. They were served from
// the hidden btfuse directory.
func TestRunMountedUnderDir(t *testing.T) {
	s := startSupervised(t)
	sub := filepath.Join(s.Dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("hidden"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := testutil.TmpfsDir(t)
	if err := os.WriteFile(filepath.Join(other, "f"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(other, sub, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	code, out, errs := s.run(t, []string{"/bin/sh", "-c", `cat "$BTFUSE_MOUNT/sub/f"; echo new > "$BTFUSE_MOUNT/sub/g"`})
	if code != 0 || out != "other" {
		t.Errorf("under run: exit %d, %q %s; want the mounted file", code, out, errs)
	}
	if b, err := os.ReadFile(filepath.Join(other, "g")); err != nil || string(b) != "new\n" {
		t.Errorf("the write under run did not reach the mounted filesystem: %q %v", b, err)
	}
}

// TestRunReadOnlyRemount: after the FUSE mount is made read-only, writes
// under run fail with EROFS as through the kernel; they succeeded.
func TestRunReadOnlyRemount(t *testing.T) {
	s := startSupervised(t)
	if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, "") })
	code, out, errs := s.run(t, []string{"/bin/sh", "-c", `touch "$BTFUSE_MOUNT/x" || mkdir "$BTFUSE_MOUNT/d"`})
	if code == 0 || !strings.Contains(out+errs, "Read-only file system") {
		t.Errorf("under run on a read-only mount: exit %d %s%s", code, out, errs)
	}
	if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := s.run(t, []string{"/bin/sh", "-c", `touch "$BTFUSE_MOUNT/x"`}); code != 0 {
		t.Errorf("under run after the mount is writable again: exit %d %s%s", code, out, errs)
	}
}

// TestRunMountMoved: when a directory above the mount is renamed and a
// plain directory takes the mount's old path, that path is the plain
// directory for the kernel, and under run too; the moved mount is served
// at its new path. run judged paths by the old string and served the
// btfuse files there.
func TestRunMountMoved(t *testing.T) {
	s := startSupervised(t)
	if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("btfuse"), 0o644); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(s.mount)
	moved := parent + ".moved"
	if err := os.Rename(parent, moved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(parent)
		if err := os.Rename(moved, parent); err != nil {
			t.Errorf("put %s back: %v", parent, err)
		}
	})
	if err := os.MkdirAll(s.mount, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.mount, "f"), []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(moved, filepath.Base(s.mount))
	code, out, errs := s.run(t, []string{"/bin/sh", "-c", `cat "$1/f"; echo; cat "$2/f"`, "sh", s.mount, newPath})
	if code != 0 || out != "plain\nbtfuse" {
		t.Errorf("under run: exit %d, %q %s; want the plain file at the old path and btfuse's at the new", code, out, errs)
	}
}

func TestViewOf(t *testing.T) {
	const table = `26 1 0:21 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
49 26 0:45 / /tmp/a\040b rw,nosuid,nodev,relatime shared:9 - fuse.btfuse btfuse rw,user_id=0,group_id=0,allow_other
`
	for _, tc := range []struct {
		name, extra string
		want        mountView
	}{
		{"plain", "", mountView{path: "/tmp/a b"}},
		{"under", "50 49 0:46 / /tmp/a\\040b/sub rw - tmpfs none rw\n", mountView{path: "/tmp/a b", kernelOnly: true}},
		{"on top", "51 49 0:47 / /tmp/a\\040b rw - tmpfs none rw\n", mountView{path: "/tmp/a b", kernelOnly: true}},
		{"sibling", "52 26 0:48 / /tmp/a\\040bc rw - tmpfs none rw\n", mountView{path: "/tmp/a b"}},
	} {
		if got := viewOf(mountinfo.Parse(table+tc.extra), 49); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	ro := strings.Replace(table, "rw,nosuid,nodev,relatime shared:9", "ro,nosuid,nodev,relatime shared:9", 1)
	if got := viewOf(mountinfo.Parse(ro), 49); !got.kernelOnly {
		t.Errorf("read-only mount: %+v", got)
	}
	if got := viewOf(mountinfo.Parse(table), 77); !got.kernelOnly || got.path != "" {
		t.Errorf("unknown mount: %+v", got)
	}
}

// TestRunMountMovedBack: a mount that moved (the directory above it
// renamed) is followed to its new path, and back again.
func TestRunMountMovedBack(t *testing.T) {
	s := startSupervised(t)
	if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("btfuse"), 0o644); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(s.mount)
	moved := parent + ".away"
	if err := os.Rename(parent, moved); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); v.kernelOnly || v.path != filepath.Join(moved, filepath.Base(s.mount)) {
		t.Errorf("view after the move: %+v", *v)
	}
	if err := os.Rename(moved, parent); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); v.kernelOnly || v.path != s.mount {
		t.Errorf("view after the move back: %+v, want served at %s", *v, s.mount)
	}
	var served int
	s.sup.onAnswer = func(nr int32, path string, r result) {
		if path == filepath.Join(s.mount, "f") && !r.cont {
			served++
		}
	}
	if code, out, errs := s.run(t, []string{"/bin/cat", filepath.Join(s.mount, "f")}); code != 0 || out != "btfuse" {
		t.Errorf("cat after the move back: exit %d %q %s", code, out, errs)
	}
	if served == 0 {
		t.Error("the open after the move back was not served")
	}
}
