package mountinfo_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/internal/testutil"
)

func TestParse(t *testing.T) {
	const table = `22 1 0:21 / /proc rw,nosuid - proc proc rw
26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 26 0:39 / /mnt/with\040space rw,nosuid,nodev shared:5 master:2 - fuse.btfuse btfuse rw,user_id=0
41 26 0:40 / /mnt/stacked rw - tmpfs tmpfs rw
42 41 0:41 /sub /mnt/stacked rw - fuse.btfuse my\134src rw
garbage line
`
	ms := mountinfo.Parse(table)
	if len(ms) != 5 {
		t.Fatalf("parsed %d mounts, want 5: %+v", len(ms), ms)
	}
	for _, tt := range []struct {
		dir, fstype, source, root string
		id                        uint64
		maj, min                  uint32
	}{
		{"/proc", "proc", "proc", "/", 22, 0, 21},
		{"/mnt/with space", "fuse.btfuse", "btfuse", "/", 40, 0, 39},
		{"/mnt/stacked", "fuse.btfuse", `my\src`, "/sub", 42, 0, 41}, // the top one
		{"/mnt/none", "", "", "", 0, 0, 0},
	} {
		m := mountinfo.At(ms, tt.dir)
		if tt.fstype == "" {
			if m != nil {
				t.Errorf("%s: found %+v, want nothing", tt.dir, m)
			}
			continue
		}
		if m == nil || m.FSType != tt.fstype || m.Source != tt.source || m.Root != tt.root || m.ID != tt.id ||
			m.Dev != unix.Mkdev(tt.maj, tt.min) {
			t.Errorf("%s: got %+v, want %s from %s (%s) id %d on %d:%d", tt.dir, m, tt.fstype, tt.source, tt.root, tt.id, tt.maj, tt.min)
		}
	}
	if m := mountinfo.Find(ms, mountinfo.ID{Mnt: 40, Dev: unix.Mkdev(0, 39)}); m == nil || !m.IsFUSE() || m.Point != "/mnt/with space" {
		t.Errorf("Find(40, 0:39) = %+v", m)
	}
	if m := mountinfo.Find(ms, mountinfo.ID{Mnt: 40, Dev: unix.Mkdev(0, 40)}); m != nil {
		t.Errorf("Find with the wrong device = %+v, want nothing", m)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:         "plain",
		`a\040b`:        "a b",
		`tab\011nl\012`: "tab\tnl\n",
		`back\134slash`: `back\slash`,
		`trailing\04`:   `trailing\04`,
		`not\999octal`:  `not\999octal`,
	} {
		if got := mountinfo.Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnmountFollowsTheMount: a mount whose parent directory was renamed,
// with a symbolic link to another mount planted at its old path, is
// unmounted where it is now, and the other mount stays. By the old path,
// umount2 followed the link and took the other mount away.
func TestUnmountFollowsTheMount(t *testing.T) {
	testutil.RequirePrivileged(t)
	base := t.TempDir()
	parent, moved := filepath.Join(base, "p"), filepath.Join(base, "p2")
	point := filepath.Join(parent, "m")
	if err := os.MkdirAll(point, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", point, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	newPoint := filepath.Join(moved, "m")
	t.Cleanup(func() { unix.Unmount(newPoint, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW) })
	id, err := mountinfo.RootAt(point)
	if err != nil {
		t.Fatalf("RootAt(%s): %v", point, err)
	}
	if _, err := mountinfo.RootAt(base); !errors.Is(err, mountinfo.ErrNotRoot) {
		t.Errorf("RootAt(%s) = %v, want ErrNotRoot", base, err)
	}
	other := testutil.TmpfsDir(t)
	otherID, err := mountinfo.RootAt(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(parent, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, point); err != nil {
		t.Fatal(err)
	}
	if p, err := mountinfo.Where(id); err != nil || p != newPoint {
		t.Errorf("Where = %q, %v; want %s", p, err, newPoint)
	}
	p, err := mountinfo.Unmount(id, false)
	if err != nil || p != newPoint {
		t.Fatalf("Unmount = %q, %v; want it unmounted at %s", p, err, newPoint)
	}
	if _, err := mountinfo.Where(id); !errors.Is(err, mountinfo.ErrNotMounted) {
		t.Errorf("after Unmount, Where: %v, want ErrNotMounted", err)
	}
	if _, err := mountinfo.Where(otherID); err != nil {
		t.Errorf("the mount the symbolic link names was unmounted: %v", err)
	}
	if _, err := mountinfo.Unmount(id, true); !errors.Is(err, mountinfo.ErrNotMounted) {
		t.Errorf("second Unmount: %v, want ErrNotMounted", err)
	}
}
