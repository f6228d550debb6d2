package fsimpl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzNames feeds arbitrary names to the name operations and checks that
// nothing panics and that invalid names get the kernel's errnos.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a", "a/b", "/", "a\x00b", strings.Repeat("x", 255), strings.Repeat("x", 256), "f", "d", "\xff\xfe"} {
		f.Add(s, "b")
		f.Add("a", s)
	}
	fs := newTestFS(f, Options{Backing: BackingShm})
	f.Fuzz(func(t *testing.T, name, name2 string) {
		d, e := fs.Mkdir(Root, RootIno, "w", 0o755)
		if e != 0 {
			t.Fatal(e)
		}
		defer func() {
			clearDir(t, fs, d.Ino)
			fs.Rmdir(Root, RootIno, "w")
			fs.Forget(d.Ino, 1)
		}()
		mustFileIn(t, fs, d.Ino, "f")
		if a, e := fs.Mkdir(Root, d.Ino, "d", 0o755); e == 0 {
			fs.Forget(a.Ino, 1)
		}
		want := nameErr(name)
		check := func(op string, got unix.Errno, ok ...unix.Errno) {
			t.Helper()
			if want != 0 {
				if got != want {
					t.Errorf("%s(%q): %s, want %s", op, name, errStr(got), errStr(want))
				}
				return
			}
			for _, o := range ok {
				if got == o {
					return
				}
			}
			t.Errorf("%s(%q): unexpected %s", op, name, errStr(got))
		}
		a, e := fs.Lookup(Root, d.Ino, name)
		if e == 0 {
			fs.Forget(a.Ino, 1)
		}
		check("lookup", e, 0, unix.ENOENT)
		a, e = fs.Mkdir(Root, d.Ino, name, 0o755)
		if e == 0 {
			fs.Forget(a.Ino, 1)
		}
		check("mkdir", e, 0, unix.EEXIST)
		a, fl, e := fs.Create(Root, d.Ino, name, unix.O_CREAT|unix.O_RDWR, 0o644)
		if e == 0 {
			fs.Release(fl)
			fs.Forget(a.Ino, 1)
		}
		check("create", e, 0, unix.EISDIR)
		e = fs.Rename(Root, d.Ino, name, d.Ino, "r", 0)
		check("rename from", e, 0, unix.EBUSY, unix.ENOENT, unix.ENOTDIR, unix.EISDIR)
		if want2 := nameErr(name2); want2 != 0 {
			if e := fs.Rename(Root, d.Ino, "f", d.Ino, name2, 0); e != want2 {
				t.Errorf("rename to %q: %s, want %s", name2, errStr(e), errStr(want2))
			}
		} else {
			fs.Rename(Root, d.Ino, "f", d.Ino, name2, uint32(len(name)%4))
		}
		fs.Unlink(Root, d.Ino, name)
		fs.Rmdir(Root, d.Ino, name)
		checkLinkCounts(t, fs)
	})
}

// nameErr is the errno any name operation must give for name, or 0 when
// the name itself is acceptable.
func nameErr(name string) unix.Errno {
	switch {
	case name == "":
		return unix.ENOENT
	case strings.ContainsAny(name, "/\x00"):
		return unix.EINVAL
	case len(name) > NameMax:
		return unix.ENAMETOOLONG
	}
	return 0
}

func mustFileIn(tb testing.TB, fs *FS, dir Ino, name string) {
	tb.Helper()
	a, f, e := fs.Create(Root, dir, name, unix.O_CREAT|unix.O_RDWR, 0o644)
	if e != 0 {
		tb.Fatalf("create %q: %v", name, e)
	}
	fs.Release(f)
	fs.Forget(a.Ino, 1)
}

// clearDir removes everything under dir, depth first.
func clearDir(tb testing.TB, fs *FS, dir Ino) {
	tb.Helper()
	var ents []Dirent
	fs.ReadDir(dir, 2, func(d Dirent) bool { ents = append(ents, d); return true })
	for _, d := range ents {
		if d.Mode == unix.S_IFDIR {
			clearDir(tb, fs, d.Ino)
			if e := fs.Rmdir(Root, dir, d.Name); e != 0 {
				tb.Fatalf("rmdir %q: %v", d.Name, e)
			}
		} else if e := fs.Unlink(Root, dir, d.Name); e != 0 {
			tb.Fatalf("unlink %q: %v", d.Name, e)
		}
	}
}
