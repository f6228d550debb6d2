package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestExportLookups: ExportInode and ExportParent answer for a caller who
// may not search the directories on the way (the kernel rebuilds handles
// without a path walk), ExportParent only for live directories, and a
// freed inode is ESTALE.
func TestExportLookups(t *testing.T) {
	fs := newTestFS(t, Options{})
	user := &Cred{UID: 1000, GID: 1000, Door: DoorFUSE}
	priv, e := fs.Mkdir(Root, RootIno, "private", 0o700)
	if e != 0 {
		t.Fatal(e)
	}
	sub, e := fs.Mkdir(Root, priv.Ino, "sub", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	file, e := fs.Mknod(Root, sub.Ino, "f", unix.S_IFREG|0o644, 0)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := fs.Lookup(user, priv.Ino, "sub"); e != unix.EACCES {
		t.Fatalf("the path walk into private as uid 1000: %v, want EACCES", e)
	}
	gone, e := fs.Mkdir(Root, RootIno, "gone", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := fs.Lookup(kernel, RootIno, "gone"); e != 0 { // the kernel holds it
		t.Fatal(e)
	}
	if e := fs.Rmdir(Root, RootIno, "gone"); e != 0 {
		t.Fatal(e)
	}
	for _, tc := range []struct {
		name   string
		parent bool
		ino    Ino
		want   Ino
		err    unix.Errno
	}{
		{"file in a private directory", false, file.Ino, file.Ino, 0},
		{"directory in a private directory", false, sub.Ino, sub.Ino, 0},
		{"parent that is private", true, sub.Ino, priv.Ino, 0},
		{"parent of a top directory", true, priv.Ino, RootIno, 0},
		{"parent of the root", true, RootIno, RootIno, 0},
		{"parent of a file", true, file.Ino, 0, unix.ENOTDIR},
		{"parent of a removed directory", true, gone.Ino, 0, unix.ENOENT},
		{"removed directory still referenced", false, gone.Ino, gone.Ino, 0},
		{"never handed out", false, 1 << 40, 0, unix.ESTALE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			export := fs.ExportInode
			if tc.parent {
				export = fs.ExportParent
			}
			a, e := export(user, tc.ino)
			if e != tc.err || a.Ino != tc.want {
				t.Fatalf("got %d, %v; want %d, %v", a.Ino, e, tc.want, tc.err)
			}
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
		})
	}
	fs.Forget(gone.Ino, 1) // frees it
	if _, e := fs.ExportInode(user, gone.Ino); e != unix.ESTALE {
		t.Errorf("freed directory: %v, want ESTALE", e)
	}
	if fs.Generation() == 0 {
		t.Errorf("generation 0: a handle of the root's generation would match")
	}
}
