package fsimpl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/sysctltest"
)

// stdTree builds the tree most name tests start from:
//
//	/d/        0755 root, holding file g
//	/e/        empty directory
//	/f         regular file "data"
//	/l -> f    symlink
//	/ro/       0555 root, holding file h
//	/pub/      01777 root (sticky), holding a (alice), b (bob)
//	/home/     0755 alice:alice
func stdTree(tb testing.TB) *FS {
	tb.Helper()
	fs := newTestFS(tb, Options{Backing: BackingShm})
	mustMkdir(tb, fs, Root, "d", 0o755)
	mustFile(tb, fs, Root, "d/g", 0o644, "")
	mustMkdir(tb, fs, Root, "e", 0o755)
	mustFile(tb, fs, Root, "f", 0o644, "data")
	if a, e := fs.Symlink(Root, RootIno, "l", "f"); e != 0 {
		tb.Fatal(e)
	} else {
		fs.Forget(a.Ino, 1)
	}
	mustMkdir(tb, fs, Root, "ro", 0o755)
	mustFile(tb, fs, Root, "ro/h", 0o644, "")
	mustChmod(tb, fs, "ro", 0o555)
	mustMkdir(tb, fs, Root, "pub", 0o777)
	mustChmod(tb, fs, "pub", 0o1777)
	mustFile(tb, fs, alice, "pub/a", 0o644, "")
	mustFile(tb, fs, bob, "pub/b", 0o644, "")
	mustMkdir(tb, fs, Root, "home", 0o755)
	mustChown(tb, fs, "home", 1000, 1000)
	return fs
}

func TestNameOps(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	long := strings.Repeat("x", NameMax+1)
	max := strings.Repeat("x", NameMax)
	type op func(fs *FS) unix.Errno
	mkdir := func(c *Cred, dir, name string) op {
		return func(fs *FS) unix.Errno {
			a, e := fs.Mkdir(c, mustWalk(t, fs, dir), name, 0o755)
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
			return e
		}
	}
	lookup := func(c *Cred, dir, name string) op {
		return func(fs *FS) unix.Errno {
			a, e := fs.Lookup(c, mustWalk(t, fs, dir), name)
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
			return e
		}
	}
	mknod := func(c *Cred, dir, name string, mode uint32, rdev uint64) op {
		return func(fs *FS) unix.Errno {
			a, e := fs.Mknod(c, mustWalk(t, fs, dir), name, mode, rdev)
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
			return e
		}
	}
	symlink := func(c *Cred, dir, name, target string) op {
		return func(fs *FS) unix.Errno {
			a, e := fs.Symlink(c, mustWalk(t, fs, dir), name, target)
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
			return e
		}
	}
	link := func(c *Cred, src, dir, name string) op {
		return func(fs *FS) unix.Errno {
			a, e := fs.Link(c, mustWalk(t, fs, src), mustWalk(t, fs, dir), name)
			if e == 0 {
				fs.Forget(a.Ino, 1)
			}
			return e
		}
	}
	unlink := func(c *Cred, dir, name string) op {
		return func(fs *FS) unix.Errno { return fs.Unlink(c, mustWalk(t, fs, dir), name) }
	}
	rmdir := func(c *Cred, dir, name string) op {
		return func(fs *FS) unix.Errno { return fs.Rmdir(c, mustWalk(t, fs, dir), name) }
	}
	readlink := func(path string) op {
		return func(fs *FS) unix.Errno { _, e := fs.Readlink(Root, mustWalk(t, fs, path)); return e }
	}
	tests := []struct {
		name string
		op   op
		want unix.Errno
	}{
		{"lookup ok", lookup(Root, "d", "g"), 0},
		{"lookup missing", lookup(Root, "d", "nope"), unix.ENOENT},
		{"lookup empty", lookup(Root, "", ""), unix.ENOENT},
		{"lookup slash", lookup(Root, "", "a/b"), unix.EINVAL},
		{"lookup nul", lookup(Root, "", "a\x00"), unix.EINVAL},
		{"lookup too long", lookup(Root, "", long), unix.ENAMETOOLONG},
		{"lookup 255 missing", lookup(Root, "", max), unix.ENOENT},
		{"lookup in file", lookup(Root, "f", "x"), unix.ENOTDIR},
		{"lookup dot", lookup(Root, "d", "."), 0},
		{"lookup dotdot of root", lookup(Root, "", ".."), 0},
		{"lookup no search perm", func(fs *FS) unix.Errno {
			mustChmod(t, fs, "home", 0o600)
			return lookup(alice, "home", "x")(fs)
		}, unix.EACCES},
		{"lookup search perm only", func(fs *FS) unix.Errno {
			mustFile(t, fs, alice, "home/x", 0o600, "")
			mustChmod(t, fs, "home", 0o100)
			return lookup(alice, "home", "x")(fs)
		}, 0},
		{"mkdir ok", mkdir(Root, "d", "n"), 0},
		{"mkdir 255", mkdir(Root, "d", max), 0},
		{"mkdir too long", mkdir(Root, "d", long), unix.ENAMETOOLONG},
		{"mkdir exists", mkdir(Root, "", "d"), unix.EEXIST},
		{"mkdir exists file", mkdir(Root, "", "f"), unix.EEXIST},
		{"mkdir dot", mkdir(Root, "d", "."), unix.EEXIST},
		{"mkdir dotdot", mkdir(Root, "d", ".."), unix.EEXIST},
		{"mkdir in file", mkdir(Root, "f", "x"), unix.ENOTDIR},
		{"mkdir exists beats perm", mkdir(alice, "ro", "h"), unix.EEXIST},
		{"mkdir no write perm", mkdir(alice, "ro", "x"), unix.EACCES},
		{"mkdir no write perm root ok", mkdir(Root, "ro", "x"), 0},
		{"mkdir in own dir", mkdir(alice, "home", "x"), 0},
		{"mknod fifo", mknod(alice, "home", "p", unix.S_IFIFO|0o644, 0), 0},
		{"mknod sock", mknod(alice, "home", "s", unix.S_IFSOCK|0o644, 0), 0},
		{"mknod type 0 is regular", mknod(alice, "home", "r", 0o644, 0), 0},
		{"mknod chr needs root", mknod(alice, "home", "c", unix.S_IFCHR|0o644, 0x0501), unix.EPERM},
		{"mknod blk needs root", mknod(alice, "home", "b", unix.S_IFBLK|0o644, 0x0801), unix.EPERM},
		{"mknod whiteout unprivileged", mknod(alice, "home", "w", unix.S_IFCHR, 0), 0},
		{"mknod chr root", mknod(Root, "d", "c", unix.S_IFCHR|0o644, 0x0501), 0},
		{"mknod dir", mknod(Root, "d", "x", unix.S_IFDIR|0o755, 0), unix.EPERM},
		{"mknod symlink type", mknod(Root, "d", "x", unix.S_IFLNK|0o755, 0), unix.EINVAL},
		{"mknod exists", mknod(Root, "", "f", unix.S_IFIFO|0o644, 0), unix.EEXIST},
		{"symlink ok", symlink(Root, "d", "s", "../f"), 0},
		{"symlink empty target", symlink(Root, "d", "s", ""), unix.ENOENT},
		{"symlink 4095 target", symlink(Root, "d", "s", strings.Repeat("a", 4095)), 0},
		{"symlink 4096 target", symlink(Root, "d", "s", strings.Repeat("a", 4096)), unix.ENAMETOOLONG},
		{"symlink exists", symlink(Root, "", "f", "x"), unix.EEXIST},
		{"symlink no perm", symlink(alice, "ro", "s", "x"), unix.EACCES},
		{"readlink ok", readlink("l"), 0},
		{"readlink file", readlink("f"), unix.EINVAL},
		{"readlink dir", readlink("d"), unix.EINVAL},
		{"link ok", link(Root, "f", "d", "f2"), 0},
		{"link symlink", link(Root, "l", "d", "l2"), 0},
		{"link dir", link(Root, "d", "e", "d2"), unix.EPERM},
		{"link exists", link(Root, "f", "d", "g"), unix.EEXIST},
		{"link dot", link(Root, "f", "d", "."), unix.EEXIST},
		{"link no perm", link(alice, "pub/a", "ro", "x"), unix.EACCES},
		{"link protected hardlink", link(carol, "pub/a", "pub", "x"), unix.EPERM},
		{"link own file", link(alice, "pub/a", "pub", "x"), 0},
		{"unlink ok", unlink(Root, "d", "g"), 0},
		{"unlink missing", unlink(Root, "d", "x"), unix.ENOENT},
		{"unlink dir", unlink(Root, "", "d"), unix.EISDIR},
		{"unlink dot", unlink(Root, "d", "."), unix.EISDIR},
		{"unlink dotdot", unlink(Root, "d", ".."), unix.EISDIR},
		{"unlink no perm", unlink(alice, "ro", "h"), unix.EACCES},
		{"unlink no perm beats EISDIR", unlink(alice, "", "d"), unix.EACCES},
		{"unlink sticky other", unlink(carol, "pub", "a"), unix.EPERM},
		{"unlink sticky owner", unlink(alice, "pub", "a"), 0},
		{"unlink sticky root", unlink(Root, "pub", "b"), 0},
		{"unlink symlink", unlink(Root, "", "l"), 0},
		{"rmdir ok", rmdir(Root, "", "e"), 0},
		{"rmdir not empty", rmdir(Root, "", "d"), unix.ENOTEMPTY},
		{"rmdir file", rmdir(Root, "", "f"), unix.ENOTDIR},
		{"rmdir missing", rmdir(Root, "", "x"), unix.ENOENT},
		{"rmdir dot", rmdir(Root, "d", "."), unix.EINVAL},
		{"rmdir dotdot", rmdir(Root, "d", ".."), unix.ENOTEMPTY},
		{"rmdir root dotdot", rmdir(Root, "", ".."), unix.ENOTEMPTY},
		{"rmdir no perm", rmdir(alice, "", "e"), unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := stdTree(t)
			if got := tc.op(fs); got != tc.want {
				t.Errorf("got %s, want %s", errStr(got), errStr(tc.want))
			}
		})
	}
}

func TestLookupDots(t *testing.T) {
	fs := stdTree(t)
	d := mustWalk(t, fs, "d")
	tests := []struct {
		dir  Ino
		name string
		want Ino
	}{
		{RootIno, ".", RootIno},
		{RootIno, "..", RootIno},
		{d, ".", d},
		{d, "..", RootIno},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, e := fs.Lookup(Root, tc.dir, tc.name)
			if e != 0 || a.Ino != tc.want {
				t.Fatalf("Lookup(%d, %q) = %d, %v; want %d", tc.dir, tc.name, a.Ino, e, tc.want)
			}
			fs.Forget(a.Ino, 1)
		})
	}
}

func TestLinkCountsAndSizes(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	root := func() Attr { return mustAttr(t, fs, RootIno) }
	if a := root(); a.Nlink != 2 || a.Size != 40 || a.Mode != unix.S_IFDIR|0o755 || a.UID != 0 || a.GID != 0 {
		t.Fatalf("fresh root: %+v", a)
	}
	d := mustMkdir(t, fs, Root, "d", 0o755)
	mustMkdir(t, fs, Root, "d/sub", 0o755)
	f := mustFile(t, fs, Root, "f", 0o644, "")
	if a := root(); a.Nlink != 3 || a.Size != 80 {
		t.Errorf("root after mkdir d, create f: nlink %d size %d, want 3, 80", a.Nlink, a.Size)
	}
	if a := mustAttr(t, fs, d); a.Nlink != 3 || a.Size != 60 || a.Blocks != 0 {
		t.Errorf("d: %+v", a)
	}
	if _, e := fs.Link(Root, f, d, "f2"); e != 0 {
		t.Fatal(e)
	}
	fs.Forget(f, 1)
	if a := mustAttr(t, fs, f); a.Nlink != 2 {
		t.Errorf("nlink after link = %d", a.Nlink)
	}
	if e := fs.Unlink(Root, RootIno, "f"); e != 0 {
		t.Fatal(e)
	}
	if a := mustAttr(t, fs, f); a.Nlink != 1 {
		t.Errorf("nlink after unlink = %d", a.Nlink)
	}
	if e := fs.Rmdir(Root, d, "sub"); e != 0 {
		t.Fatal(e)
	}
	if a := mustAttr(t, fs, d); a.Nlink != 2 {
		t.Errorf("d nlink after rmdir = %d", a.Nlink)
	}
	s, e := fs.Symlink(Root, RootIno, "s", strings.Repeat("t", 200))
	if e != 0 {
		t.Fatal(e)
	}
	if s.Size != 200 || s.Blocks != 8 || s.Mode != unix.S_IFLNK|0o777 || s.Nlink != 1 {
		t.Errorf("symlink attr %+v", s)
	}
}

func TestInodeNumbersNeverReused(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	seen := map[Ino]bool{RootIno: true}
	for i := 0; i < 50; i++ {
		ino := mustFile(t, fs, Root, "f", 0o644, "")
		if seen[ino] {
			t.Fatalf("inode %d reused", ino)
		}
		seen[ino] = true
		if e := fs.Unlink(Root, RootIno, "f"); e != 0 {
			t.Fatal(e)
		}
	}
}
