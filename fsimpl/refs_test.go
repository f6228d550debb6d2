package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestFreeing(t *testing.T) {
	tests := []struct {
		name string
		// run gets a fresh file /x (no references held) and returns
		// what keeps it alive, then drops that; alive says whether the
		// inode must still exist between the two steps.
		run func(t *testing.T, fs *FS, ino Ino) (release func())
	}{
		{"unlinked with a reference", func(t *testing.T, fs *FS, ino Ino) func() {
			a, e := fs.Lookup(kernel, RootIno, "x")
			if e != 0 {
				t.Fatal(e)
			}
			return func() { fs.Forget(a.Ino, 1) }
		}},
		{"unlinked while open", func(t *testing.T, fs *FS, ino Ino) func() {
			f, e := fs.Open(kernel, ino, unix.O_RDWR)
			if e != 0 {
				t.Fatal(e)
			}
			return func() {
				// The open file still works after the unlink.
				if n, e := fs.Write(f, []byte("still"), 0, nil); n != 5 || e != 0 {
					t.Errorf("write to unlinked file: %d %v", n, e)
				}
				fs.Release(f)
			}
		}},
		{"many references", func(t *testing.T, fs *FS, ino Ino) func() {
			for i := 0; i < 3; i++ {
				if _, e := fs.Lookup(kernel, RootIno, "x"); e != 0 {
					t.Fatal(e)
				}
			}
			return func() { fs.Forget(ino, 2); fs.Forget(ino, 1) }
		}},
		{"forget too many", func(t *testing.T, fs *FS, ino Ino) func() {
			if _, e := fs.Lookup(kernel, RootIno, "x"); e != 0 {
				t.Fatal(e)
			}
			return func() { fs.Forget(ino, 1<<60) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			ino := mustFile(t, fs, kernel, "x", 0o644, "data")
			release := tc.run(t, fs, ino)
			if e := fs.Unlink(kernel, RootIno, "x"); e != 0 {
				t.Fatal(e)
			}
			a, e := fs.GetAttr(ino)
			if e != 0 || a.Nlink != 0 || !backingExists(fs, ino) {
				t.Fatalf("inode gone too early: %+v %v backing %v", a, e, backingExists(fs, ino))
			}
			release()
			if _, e := fs.GetAttr(ino); e != unix.ESTALE {
				t.Errorf("freed inode: GetAttr %v", e)
			}
			if backingExists(fs, ino) {
				t.Errorf("backing file left behind")
			}
			if got := fs.StatFs().Ffree; got != fs.maxInodes-1 {
				t.Errorf("Ffree %d, want %d", got, fs.maxInodes-1)
			}
		})
	}
}

func TestFreeOnLastUnlink(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	ino := mustFile(t, fs, kernel, "x", 0o644, "data")
	if _, e := fs.Link(kernel, ino, RootIno, "y"); e != 0 {
		t.Fatal(e)
	}
	fs.Forget(ino, 1)
	fs.Unlink(kernel, RootIno, "x")
	if !backingExists(fs, ino) {
		t.Fatal("freed with a link left")
	}
	fs.Unlink(kernel, RootIno, "y")
	if backingExists(fs, ino) {
		t.Fatal("not freed after the last unlink")
	}
	// Rename over frees the replaced file too.
	a := mustFile(t, fs, kernel, "a", 0o644, "a")
	b := mustFile(t, fs, kernel, "b", 0o644, "b")
	if e := fs.Rename(kernel, RootIno, "a", RootIno, "b", 0); e != 0 {
		t.Fatal(e)
	}
	if backingExists(fs, b) || !backingExists(fs, a) {
		t.Errorf("rename over: a %v b %v", backingExists(fs, a), backingExists(fs, b))
	}
	// A removed directory with a reference lives on, dead.
	d, e := fs.Mkdir(kernel, RootIno, "d", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	if e := fs.Rmdir(kernel, RootIno, "d"); e != 0 {
		t.Fatal(e)
	}
	if at := mustAttr(t, fs, d.Ino); at.Nlink != 0 {
		t.Errorf("dead dir nlink %d", at.Nlink)
	}
	if _, e := fs.Mkdir(kernel, d.Ino, "sub", 0o755); e != unix.ENOENT {
		t.Errorf("mkdir in dead dir: %v", e)
	}
	if _, _, e := fs.Create(kernel, d.Ino, "f", unix.O_CREAT|unix.O_RDWR, 0o644); e != unix.ENOENT {
		t.Errorf("create in dead dir: %v", e)
	}
	if got := names(t, fs, d.Ino); len(got) != 0 {
		t.Errorf("dead dir lists %v", got)
	}
	fs.Forget(d.Ino, 1)
	if _, e := fs.GetAttr(d.Ino); e != unix.ESTALE {
		t.Errorf("dead dir after forget: %v", e)
	}
}

func TestRootNeverFreed(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	fs.Forget(RootIno, 100)
	fs.Forget(0, 1)
	fs.Forget(77777, 1)
	if _, e := fs.GetAttr(RootIno); e != 0 {
		t.Fatal(e)
	}
}

func TestUnknownInodes(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	const bad = Ino(99999)
	checks := map[string]unix.Errno{}
	_, checks["getattr"] = fs.GetAttr(bad)
	_, checks["lookup"] = fs.Lookup(kernel, bad, "x")
	_, checks["setattr"] = fs.SetAttr(kernel, bad, &SetAttrIn{Valid: SetMode}, nil)
	_, checks["open"] = fs.Open(kernel, bad, unix.O_RDONLY)
	_, checks["readlink"] = fs.Readlink(kernel, bad)
	_, checks["link"] = fs.Link(kernel, bad, RootIno, "x")
	_, checks["getxattr"] = fs.GetXattr(kernel, bad, "user.x")
	checks["access"] = fs.Access(kernel, bad, 0)
	checks["readdir"] = fs.ReadDir(bad, 0, func(Dirent) bool { return true })
	checks["rename"] = fs.Rename(kernel, bad, "a", RootIno, "b", 0)
	for op, e := range checks {
		if e != unix.ESTALE {
			t.Errorf("%s: %s, want ESTALE", op, errStr(e))
		}
	}
}

// TestDotDotOfFreedParent: the ".." of a removed directory whose parent was
// removed after it and has no references left must not hand out the freed
// parent (it did, and attrLocked then crashed on its cleared directory).
func TestDotDotOfFreedParent(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	p, e := fs.Mkdir(kernel, RootIno, "p", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	d, e := fs.Mkdir(kernel, p.Ino, "d", 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	fs.Forget(p.Ino, 1) // d keeps its reference: a process sits in it
	if e := fs.Rmdir(kernel, p.Ino, "d"); e != 0 {
		t.Fatal(e)
	}
	if e := fs.Rmdir(kernel, RootIno, "p"); e != 0 {
		t.Fatal(e)
	}
	if _, e := fs.Lookup(kernel, d.Ino, ".."); e != unix.ENOENT {
		t.Errorf("Lookup(.., removed dir of a freed parent) = %v, want ENOENT", e)
	}
	if _, _, e := fs.Create(kernel, d.Ino, "..", unix.O_RDONLY, 0); e == 0 {
		t.Errorf("Create(..) in a removed dir of a freed parent succeeded")
	}
	if a, e := fs.Lookup(kernel, d.Ino, "."); e != 0 || a.Nlink != 0 {
		t.Errorf("Lookup(.) of the removed dir = %+v, %v; want it with nlink 0", a, e)
	} else {
		fs.Forget(d.Ino, 1)
	}
	fs.Forget(d.Ino, 1)
}

// kernel is root coming through the FUSE door, whose entries carry the
// lookup references these tests count.
var kernel = &Cred{Caps: AllCaps, Door: DoorFUSE}
