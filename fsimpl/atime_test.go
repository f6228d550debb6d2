package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestRelatime pins the relatime rule for inodes whose atime fsimpl keeps
// itself: reading a symlink or listing a directory refreshes an atime that
// is older than mtime (here: set to 2001), and leaves a fresh one alone.
func TestRelatime(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	old := unix.Timespec{Sec: 978307200} // 2001-01-01
	lnk, e := fs.Symlink(Root, RootIno, "l", "target")
	if e != 0 {
		t.Fatal(e)
	}
	dir, e := fs.Mkdir(Root, RootIno, "d", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	for _, tc := range []struct {
		name   string
		ino    Ino
		access func() unix.Errno
	}{
		{"readlink", lnk.Ino, func() unix.Errno { _, e := fs.Readlink(Root, lnk.Ino); return e }},
		{"readdir", dir.Ino, func() unix.Errno { return fs.ReadDir(dir.Ino, 0, func(Dirent) bool { return true }) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, e := fs.SetAttr(Root, tc.ino, &SetAttrIn{Valid: SetAtime, Atime: old}, nil); e != 0 {
				t.Fatal(e)
			}
			if e := tc.access(); e != 0 {
				t.Fatal(e)
			}
			a, _ := fs.GetAttr(tc.ino)
			if a.Atime == old {
				t.Fatalf("atime still %v after access; relatime must refresh an atime older than mtime", a.Atime)
			}
			fresh := a.Atime
			if e := tc.access(); e != 0 {
				t.Fatal(e)
			}
			if a, _ := fs.GetAttr(tc.ino); a.Atime != fresh {
				t.Fatalf("atime moved from %v to %v although it was newer than mtime and ctime", fresh, a.Atime)
			}
		})
	}
}
