package fsimpl

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInodeLimit(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: kind, Inodes: 5})
			// The root is one of the 5.
			mustFile(t, fs, Root, "a", 0o644, "")
			mustMkdir(t, fs, Root, "b", 0o755)
			if a, e := fs.Symlink(Root, RootIno, "c", "x"); e != 0 {
				t.Fatal(e)
			} else {
				fs.Forget(a.Ino, 1)
			}
			// An extra hard link costs an inode, as in tmpfs.
			if a, e := fs.Link(Root, mustWalk(t, fs, "a"), RootIno, "a2"); e != 0 {
				t.Fatal(e)
			} else {
				fs.Forget(a.Ino, 1)
			}
			if s := fs.StatFs(); s.Files != 5 || s.Ffree != 0 {
				t.Errorf("statfs %+v", s)
			}
			ops := map[string]func() unix.Errno{
				"mkdir":   func() unix.Errno { _, e := fs.Mkdir(Root, RootIno, "n", 0o755); return e },
				"mknod":   func() unix.Errno { _, e := fs.Mknod(Root, RootIno, "n", unix.S_IFIFO|0o644, 0); return e },
				"create":  func() unix.Errno { _, _, e := fs.Create(Root, RootIno, "n", unix.O_CREAT|unix.O_RDWR, 0o644); return e },
				"symlink": func() unix.Errno { _, e := fs.Symlink(Root, RootIno, "n", "t"); return e },
				"link":    func() unix.Errno { _, e := fs.Link(Root, mustWalk(t, fs, "a"), RootIno, "n"); return e },
				"whiteout": func() unix.Errno {
					return fs.Rename(Root, RootIno, "c", RootIno, "n", unix.RENAME_WHITEOUT)
				},
			}
			for name, op := range ops {
				if e := op(); e != unix.ENOSPC {
					t.Errorf("%s at the limit: %s", name, errStr(e))
				}
			}
			// Unlinking the extra link frees one slot.
			if e := fs.Unlink(Root, RootIno, "a2"); e != 0 {
				t.Fatal(e)
			}
			if a, e := fs.Mkdir(Root, RootIno, "n", 0o755); e != 0 {
				t.Errorf("mkdir after freeing: %v", e)
			} else {
				fs.Forget(a.Ino, 1)
			}
		})
	}
}

func TestByteLimit(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			const limit = 1 << 20
			fs := newTestFS(t, Options{Backing: kind, SizeBytes: limit})
			a, f, e := fs.Create(Root, RootIno, "x", unix.O_CREAT|unix.O_RDWR, 0o644)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Forget(a.Ino, 1)
			defer fs.Release(f)
			chunk := make([]byte, 64<<10)
			var written int64
			var werr unix.Errno
			for i := 0; i < 2*limit/len(chunk) && werr == 0; i++ {
				var n int
				n, werr = fs.Write(f, chunk, written, nil)
				written += int64(n)
			}
			if werr != unix.ENOSPC {
				t.Fatalf("writing 2x the limit: %v after %d bytes", werr, written)
			}
			if written > limit || written < limit-int64(len(chunk))-pageSize {
				t.Errorf("wrote %d bytes of a %d limit", written, limit)
			}
			if e := fs.Fallocate(f, 0, written, 1<<20); e != unix.ENOSPC {
				t.Errorf("fallocate past the limit: %v", e)
			}
			// Overwriting allocated data is fine at the limit.
			if n, e := fs.Write(f, chunk[:4096], 0, nil); n != 4096 || e != 0 {
				t.Errorf("overwrite at the limit: %d %v", n, e)
			}
			// Sparse growth is fine too.
			if _, e := fs.SetAttr(Root, a.Ino, &SetAttrIn{Valid: SetSize, Size: 1 << 40}, nil); e != 0 {
				t.Errorf("sparse truncate at the limit: %v", e)
			}
			if s := fs.StatFs(); s.Bfree > 16 || s.Blocks != limit/pageSize {
				t.Errorf("statfs at the limit: %+v", s)
			}
			// Freeing space makes room again.
			if _, e := fs.SetAttr(Root, a.Ino, &SetAttrIn{Valid: SetSize, Size: 0}, nil); e != 0 {
				t.Fatal(e)
			}
			if n, e := fs.Write(f, chunk, 0, nil); n != len(chunk) || e != 0 {
				t.Errorf("write after truncate: %d %v", n, e)
			}
		})
	}
}

func TestManyFilesFewFds(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	before := countFds(t)
	for i := 0; i < 2000; i++ {
		mustFile(t, fs, Root, fmt.Sprintf("f%d", i), 0o644, "x")
	}
	if after := countFds(t); after > before+2 {
		t.Errorf("fds grew from %d to %d for 2000 files", before, after)
	}
}

func countFds(tb testing.TB) int {
	tb.Helper()
	var n int
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1<<16)
	for {
		m, err := unix.ReadDirent(fd, buf)
		if err != nil {
			tb.Fatal(err)
		}
		if m == 0 {
			return n
		}
		_, c, _ := unix.ParseDirent(buf[:m], -1, nil)
		n += c
	}
}
