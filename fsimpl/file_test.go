package fsimpl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fileTree: /f (alice 0644 "hello"), /ro (alice 0444), /wo (alice 0222),
// /d/ (dir), /l -> f, /p (fifo 0600 alice), /nw/ (0555 dir with nw/g 0666).
func fileTree(tb testing.TB) *FS {
	tb.Helper()
	fs := newTestFS(tb, Options{Backing: BackingShm})
	for _, p := range []struct {
		name string
		mode uint32
	}{{"f", 0o644}, {"ro", 0o444}, {"wo", 0o222}} {
		mustFile(tb, fs, Root, p.name, 0o644, "hello")
		mustChown(tb, fs, p.name, 1000, 1000)
		mustChmod(tb, fs, p.name, p.mode)
	}
	mustMkdir(tb, fs, Root, "d", 0o777)
	if a, e := fs.Symlink(Root, RootIno, "l", "f"); e != 0 {
		tb.Fatal(e)
	} else {
		fs.Forget(a.Ino, 1)
	}
	if a, e := fs.Mknod(alice, mustWalk(tb, fs, "d"), "p", unix.S_IFIFO|0o600, 0); e != 0 {
		tb.Fatal(e)
	} else {
		fs.Forget(a.Ino, 1)
	}
	mustMkdir(tb, fs, Root, "nw", 0o755)
	mustFile(tb, fs, Root, "nw/g", 0o666, "")
	mustChmod(tb, fs, "nw", 0o555)
	return fs
}

func TestCreateOpen(t *testing.T) {
	tests := []struct {
		name  string
		c     *Cred
		path  string
		flags int
		mode  uint32
		open  bool // Open the existing path instead of Create
		want  unix.Errno
	}{
		{name: "create new", c: alice, path: "d/n", flags: unix.O_CREAT | unix.O_EXCL | unix.O_RDWR, mode: 0o644},
		{name: "create new mode 0 rdwr", c: alice, path: "d/n", flags: unix.O_CREAT | unix.O_RDWR, mode: 0},
		{name: "create excl exists", c: alice, path: "f", flags: unix.O_CREAT | unix.O_EXCL | unix.O_RDONLY, want: unix.EEXIST},
		{name: "create excl symlink", c: alice, path: "l", flags: unix.O_CREAT | unix.O_EXCL | unix.O_RDONLY, want: unix.EEXIST},
		{name: "create over symlink", c: alice, path: "l", flags: unix.O_CREAT | unix.O_RDONLY, want: unix.ELOOP},
		{name: "create existing dir", c: alice, path: "d", flags: unix.O_CREAT | unix.O_RDONLY, want: unix.EISDIR},
		{name: "create dot", c: alice, path: "d/.", flags: unix.O_CREAT | unix.O_RDONLY, want: unix.EISDIR},
		{name: "create existing ok", c: alice, path: "f", flags: unix.O_CREAT | unix.O_RDWR},
		{name: "create missing without O_CREAT", c: alice, path: "d/n", flags: unix.O_RDWR, want: unix.ENOENT},
		{name: "create in unwritable dir", c: alice, path: "nw/n", flags: unix.O_CREAT | unix.O_RDWR, mode: 0o644, want: unix.EACCES},
		{name: "create existing in unwritable dir", c: alice, path: "nw/g", flags: unix.O_CREAT | unix.O_RDWR},
		{name: "create name too long", c: alice, path: "d/" + string(bytes.Repeat([]byte("n"), 256)), flags: unix.O_CREAT | unix.O_RDWR, want: unix.ENAMETOOLONG},
		{name: "create with O_DIRECTORY", c: alice, path: "d/n", flags: unix.O_CREAT | unix.O_DIRECTORY | unix.O_RDONLY, mode: 0o644, want: unix.EINVAL},
		{name: "O_TMPFILE", c: alice, path: "d/n", flags: unix.O_TMPFILE | unix.O_RDWR, mode: 0o644, want: unix.EOPNOTSUPP},
		{name: "open read", c: alice, path: "f", flags: unix.O_RDONLY, open: true},
		{name: "open read denied", c: alice, path: "wo", flags: unix.O_RDONLY, open: true, want: unix.EACCES},
		{name: "open write denied", c: alice, path: "ro", flags: unix.O_WRONLY, open: true, want: unix.EACCES},
		{name: "open rdwr needs both", c: alice, path: "wo", flags: unix.O_RDWR, open: true, want: unix.EACCES},
		{name: "open trunc needs write", c: alice, path: "ro", flags: unix.O_RDONLY | unix.O_TRUNC, open: true, want: unix.EACCES},
		{name: "open other read", c: carol, path: "f", flags: unix.O_RDONLY, open: true},
		{name: "open other write", c: carol, path: "f", flags: unix.O_WRONLY, open: true, want: unix.EACCES},
		{name: "open root anything", c: Root, path: "wo", flags: unix.O_RDWR | unix.O_TRUNC, open: true},
		{name: "open dir read", c: alice, path: "d", flags: unix.O_RDONLY, open: true, want: unix.EINVAL},
		{name: "open dir write", c: alice, path: "d", flags: unix.O_WRONLY, open: true, want: unix.EISDIR},
		{name: "open dir trunc", c: alice, path: "d", flags: unix.O_RDONLY | unix.O_TRUNC, open: true, want: unix.EISDIR},
		{name: "open fifo", c: alice, path: "d/p", flags: unix.O_RDONLY, open: true, want: unix.EINVAL},
		{name: "open fifo denied", c: carol, path: "d/p", flags: unix.O_RDONLY, open: true, want: unix.EACCES},
		{name: "open symlink", c: alice, path: "l", flags: unix.O_RDONLY, open: true, want: unix.ELOOP},
		{name: "open O_DIRECTORY on file", c: alice, path: "f", flags: unix.O_RDONLY | unix.O_DIRECTORY, open: true, want: unix.ENOTDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := fileTree(t)
			var f *File
			var e unix.Errno
			if tc.open {
				f, e = fs.Open(tc.c, mustWalk(t, fs, tc.path), tc.flags)
			} else {
				dir, name := split(tc.path)
				var a Attr
				a, f, e = fs.Create(tc.c, mustWalk(t, fs, dir), name, tc.flags, tc.mode)
				if e == 0 {
					defer fs.Forget(a.Ino, 1)
					if a.Ino != f.Ino {
						t.Errorf("attr ino %d, file ino %d", a.Ino, f.Ino)
					}
				}
			}
			if e != tc.want {
				t.Fatalf("got %s, want %s", errStr(e), errStr(tc.want))
			}
			if e != 0 {
				if f != nil {
					t.Errorf("File returned with an error")
				}
				return
			}
			defer fs.Release(f)
			fl, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if fl&unix.O_ACCMODE != tc.flags&unix.O_ACCMODE {
				t.Errorf("backing fd access mode %d, want %d", fl&unix.O_ACCMODE, tc.flags&unix.O_ACCMODE)
			}
		})
	}
}

func TestReadWrite(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: kind})
			a, f, e := fs.Create(Root, RootIno, "x", unix.O_CREAT|unix.O_RDWR, 0o644)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Forget(a.Ino, 1)
			defer fs.Release(f)
			offs := []int64{0, 4095, 1 << 32, 5<<32 + 17}
			for _, off := range offs {
				if n, e := fs.Write(f, []byte("abc"), off, nil); n != 3 || e != 0 {
					t.Fatalf("write at %d: %d, %v", off, n, e)
				}
			}
			for _, off := range offs {
				buf := make([]byte, 3)
				if n, e := fs.Read(f, buf, off); n != 3 || e != 0 || string(buf) != "abc" {
					t.Errorf("read at %d: %d %v %q", off, n, e, buf)
				}
			}
			st := mustAttr(t, fs, a.Ino)
			if st.Size != 5<<32+20 || st.Blocks > 64 {
				t.Errorf("size %d blocks %d", st.Size, st.Blocks)
			}
			buf := make([]byte, 10)
			if n, e := fs.Read(f, buf, 5<<32+18); n != 2 || e != 0 {
				t.Errorf("short read at end: %d %v", n, e)
			}
			if n, e := fs.Read(f, buf, 1<<40); n != 0 || e != 0 {
				t.Errorf("read past end: %d %v", n, e)
			}
			if _, e := fs.Read(f, buf, -1); e != unix.EINVAL {
				t.Errorf("read at -1: %v", e)
			}
			if _, e := fs.Write(f, buf, -1, nil); e != unix.EINVAL {
				t.Errorf("write at -1: %v", e)
			}
			// Holes read as zeros and seek finds data.
			if off, e := fs.Lseek(f, 4096*2, unix.SEEK_DATA); e != 0 || off != 1<<32 {
				t.Errorf("SEEK_DATA: %d %v", off, e)
			}
			if off, e := fs.Lseek(f, 0, unix.SEEK_END); e != 0 || off != 5<<32+20 {
				t.Errorf("SEEK_END: %d %v", off, e)
			}
			if _, e := fs.Lseek(f, 1<<50, unix.SEEK_DATA); e != unix.ENXIO {
				t.Errorf("SEEK_DATA past end: %v", e)
			}
		})
	}
}

func TestOpenFlags(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	ino := mustFile(t, fs, Root, "x", 0o644, "hello world")
	t.Run("O_APPEND", func(t *testing.T) {
		f, e := fs.Open(Root, ino, unix.O_WRONLY|unix.O_APPEND)
		if e != 0 {
			t.Fatal(e)
		}
		defer fs.Release(f)
		if _, e := fs.Write(f, []byte("!"), 0, nil); e != 0 {
			t.Fatal(e)
		}
		if a := mustAttr(t, fs, ino); a.Size != 12 {
			t.Errorf("size after append %d", a.Size)
		}
	})
	t.Run("read-only fd refuses writes", func(t *testing.T) {
		f, e := fs.Open(Root, ino, unix.O_RDONLY)
		if e != 0 {
			t.Fatal(e)
		}
		defer fs.Release(f)
		if _, e := fs.Write(f, []byte("!"), 0, nil); e != unix.EBADF {
			t.Errorf("write on O_RDONLY: %v", e)
		}
	})
	t.Run("O_TRUNC", func(t *testing.T) {
		f, e := fs.Open(Root, ino, unix.O_RDONLY|unix.O_TRUNC)
		if e != 0 {
			t.Fatal(e)
		}
		defer fs.Release(f)
		if a := mustAttr(t, fs, ino); a.Size != 0 {
			t.Errorf("size after O_TRUNC %d", a.Size)
		}
	})
	t.Run("O_TRUNC by user kills suid", func(t *testing.T) {
		mustChown(t, fs, "x", 1000, 1000)
		mustChmod(t, fs, "x", 0o6775)
		f, e := fs.Open(alice, ino, unix.O_WRONLY|unix.O_TRUNC)
		if e != 0 {
			t.Fatal(e)
		}
		defer fs.Release(f)
		if a := mustAttr(t, fs, ino); a.Mode&0o7777 != 0o775 {
			t.Errorf("mode after O_TRUNC %o", a.Mode)
		}
	})
	t.Run("write kills suid", func(t *testing.T) {
		mustChmod(t, fs, "x", 0o6775)
		f, e := fs.Open(alice, ino, unix.O_WRONLY)
		if e != 0 {
			t.Fatal(e)
		}
		defer fs.Release(f)
		if _, e := fs.Write(f, []byte("x"), 0, alice); e != 0 {
			t.Fatal(e)
		}
		if a := mustAttr(t, fs, ino); a.Mode&0o7777 != 0o775 {
			t.Errorf("mode after write %o", a.Mode)
		}
	})
	// setgid without group-exec goes only for a writer outside the group
	// (fs/attr.c:setattr_should_drop_sgid); x is alice's, group 1000.
	for _, tc := range []struct {
		name   string
		c      *Cred
		before uint32
		after  uint32
	}{
		{"member keeps setgid", alice, 0o2666, 0o2666},
		{"supplementary member keeps setgid", bob, 0o2666, 0o2666},
		{"non-member drops setgid", carol, 0o2666, 0o0666},
		{"group-exec setgid goes for members", alice, 0o2676, 0o0676},
	} {
		t.Run("write "+tc.name, func(t *testing.T) {
			mustChmod(t, fs, "x", tc.before)
			f, e := fs.Open(Root, ino, unix.O_WRONLY)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Release(f)
			if _, e := fs.Write(f, []byte("x"), 0, tc.c); e != 0 {
				t.Fatal(e)
			}
			if a := mustAttr(t, fs, ino); a.Mode&0o7777 != tc.after {
				t.Errorf("mode after write %o, want %o", a.Mode&0o7777, tc.after)
			}
		})
	}
}

func TestFallocate(t *testing.T) {
	tests := []struct {
		name     string
		flags    int
		mode     uint32
		off, len int64
		want     unix.Errno
		wantSize uint64
	}{
		{name: "allocate", flags: unix.O_RDWR, off: 0, len: 8192, wantSize: 8192},
		{name: "keep size", flags: unix.O_RDWR, mode: unix.FALLOC_FL_KEEP_SIZE, off: 0, len: 8192, wantSize: 5},
		{name: "punch hole", flags: unix.O_RDWR, mode: unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, off: 0, len: 4096, wantSize: 5},
		{name: "punch without keep size", flags: unix.O_RDWR, mode: unix.FALLOC_FL_PUNCH_HOLE, off: 0, len: 4096, want: unix.EOPNOTSUPP},
		{name: "zero range", flags: unix.O_RDWR, mode: unix.FALLOC_FL_ZERO_RANGE, off: 0, len: 4096, want: unix.EOPNOTSUPP},
		{name: "collapse", flags: unix.O_RDWR, mode: unix.FALLOC_FL_COLLAPSE_RANGE, off: 0, len: 4096, want: unix.EOPNOTSUPP},
		{name: "negative offset", flags: unix.O_RDWR, off: -1, len: 4096, want: unix.EINVAL},
		{name: "zero length", flags: unix.O_RDWR, off: 0, len: 0, want: unix.EINVAL},
		{name: "read-only fd", flags: unix.O_RDONLY, off: 0, len: 4096, want: unix.EBADF},
		{name: "beyond max file size", flags: unix.O_RDWR, off: 1<<63 - 10, len: 100, want: unix.EFBIG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			ino := mustFile(t, fs, Root, "x", 0o644, "hello")
			f, e := fs.Open(Root, ino, tc.flags)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Release(f)
			if e := fs.Fallocate(f, tc.mode, tc.off, tc.len); e != tc.want {
				t.Fatalf("got %s, want %s", errStr(e), errStr(tc.want))
			}
			if tc.want == 0 {
				if a := mustAttr(t, fs, ino); a.Size != tc.wantSize {
					t.Errorf("size %d, want %d", a.Size, tc.wantSize)
				}
			}
		})
	}
}

func TestFsync(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	if e := fs.Fsync(RootIno); e != 0 {
		t.Errorf("fsync root: %v", e)
	}
	if e := fs.Fsync(999); e != unix.ESTALE {
		t.Errorf("fsync unknown: %v", e)
	}
}

// TestBackingIno maps a descriptor's backing identity back to its inode,
// for as long as the inode lives, and forgets it when the inode is freed.
func TestBackingIno(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: kind})
			ino := mustFile(t, fs, Root, "f", 0o644, "x")
			f, e := fs.Open(Root, ino, unix.O_RDONLY)
			if e != 0 {
				t.Fatal(e)
			}
			var st unix.Stat_t
			if err := unix.Fstat(f.Fd, &st); err != nil {
				t.Fatal(err)
			}
			if got, ok := fs.BackingIno(st.Dev, st.Ino); !ok || got != ino {
				t.Errorf("BackingIno of the open file = %d, %v; want %d", got, ok, ino)
			}
			if _, ok := fs.BackingIno(st.Dev+1, st.Ino); ok {
				t.Error("BackingIno matched another device")
			}
			if e := fs.Unlink(Root, RootIno, "f"); e != 0 {
				t.Fatal(e)
			}
			if got, ok := fs.BackingIno(st.Dev, st.Ino); !ok || got != ino {
				t.Errorf("unlinked but open: BackingIno = %d, %v; want %d", got, ok, ino)
			}
			fs.Release(f)
			if got, ok := fs.BackingIno(st.Dev, st.Ino); ok {
				t.Errorf("freed inode still known as %d", got)
			}
			fs.mu.RLock()
			n := len(fs.byBacking)
			fs.mu.RUnlock()
			if n != 0 {
				t.Errorf("%d backing entries left with no file", n)
			}
		})
	}
}

// TestBackingAttr: the attributes of a backing file's stat, taken by a
// lane from a descriptor on it, are GetAttr's, native writes through the
// descriptor included; a stat of anything else is no inode's.
func TestBackingAttr(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: kind})
			ino := mustFile(t, fs, Root, "f", 0o4755, "x")
			f, e := fs.Open(Root, ino, unix.O_RDWR)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Release(f)
			for i, data := range []string{"", "more data", strings.Repeat("y", 3*pageSize)} {
				if _, err := unix.Pwrite(f.Fd, []byte(data), int64(i)); err != nil {
					t.Fatal(err)
				}
				var st unix.Stat_t
				if err := unix.Fstat(f.Fd, &st); err != nil {
					t.Fatal(err)
				}
				got, ok := fs.BackingAttr(&st)
				want, e := fs.GetAttr(ino)
				if !ok || e != 0 || got != want {
					t.Errorf("write %d: BackingAttr = %+v, %v; GetAttr = %+v, %v", i, got, ok, want, e)
				}
			}
			var st unix.Stat_t
			if err := unix.Stat("/", &st); err != nil {
				t.Fatal(err)
			}
			if a, ok := fs.BackingAttr(&st); ok {
				t.Errorf("BackingAttr of / = %+v", a)
			}
		})
	}
}

// TestStatAt: StatAt answers like GetAttr and takes no reference.
func TestStatAt(t *testing.T) {
	fs := fileTree(t)
	ino := mustWalk(t, fs, "f")
	a, e := fs.StatAt(&At{Cred: alice, Dir: RootIno, Path: "f"})
	if e != 0 {
		t.Fatal(e)
	}
	if want := mustAttr(t, fs, ino); a != want {
		t.Errorf("StatAt = %+v, GetAttr = %+v", a, want)
	}
	fs.mu.RLock()
	refs := fs.inodes[ino].refs.Load()
	fs.mu.RUnlock()
	if refs != 0 {
		t.Errorf("StatAt left %d references", refs)
	}
	if _, e := fs.StatAt(&At{Cred: alice, Dir: RootIno, Path: "nope"}); e != unix.ENOENT {
		t.Errorf("missing name: %v", e)
	}
	if _, e := fs.StatAt(&At{Cred: alice, Dir: RootIno, Path: "f/x"}); e != unix.ENOTDIR {
		t.Errorf("lookup in a file: %v", e)
	}
}

// TestHandOutVolatile: a writer handed out makes the inode's attributes
// Volatile until it is released; a reader does not.
func TestHandOutVolatile(t *testing.T) {
	fs := fileTree(t)
	ino := mustWalk(t, fs, "f")
	r, e := fs.Open(Root, ino, unix.O_RDONLY)
	if e != 0 {
		t.Fatal(e)
	}
	fs.HandOut(r)
	if mustAttr(t, fs, ino).Volatile {
		t.Error("a reader handed out made the attributes volatile")
	}
	w, e := fs.Open(Root, ino, unix.O_WRONLY)
	if e != 0 {
		t.Fatal(e)
	}
	if mustAttr(t, fs, ino).Volatile {
		t.Error("a writer kept by fsimpl's caller made the attributes volatile")
	}
	fs.HandOut(w)
	fs.HandOut(w) // counted once
	if a, _ := fs.StatAt(&At{Dir: RootIno, Path: "f"}); !a.Volatile || !mustAttr(t, fs, ino).Volatile {
		t.Error("a writer handed out: attributes not volatile")
	}
	fs.Release(w)
	fs.Release(r)
	if mustAttr(t, fs, ino).Volatile {
		t.Error("still volatile after the writer was released")
	}
}

// TestOpenExec: an open for exec (__FMODE_EXEC) needs execute permission,
// not read permission (fs/exec.c:do_open_execat()), and root needs some
// execute bit.
func TestOpenExec(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	exe := unix.O_RDONLY | FmodeExec
	for _, tc := range []struct {
		mode uint32
		c    *Cred
		want unix.Errno
	}{
		{0o711, alice, 0},
		{0o744, alice, unix.EACCES},
		{0o644, Root, unix.EACCES},
		{0o100, Root, 0},
	} {
		ino := mustFile(t, fs, Root, fmt.Sprintf("f%o", tc.mode), tc.mode, "x")
		f, e := fs.Open(tc.c, ino, exe)
		if e != tc.want {
			t.Errorf("exec open of mode %o by uid %d: %s, want %s", tc.mode, tc.c.UID, errStr(e), errStr(tc.want))
		}
		fs.Release(f)
		if tc.mode == 0o711 {
			if _, e := fs.Open(tc.c, ino, unix.O_RDONLY); e != unix.EACCES {
				t.Errorf("read open of mode 711 by uid %d: %s, want EACCES", tc.c.UID, errStr(e))
			}
		}
	}
}
