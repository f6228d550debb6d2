package fuseserve_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// TestOps runs basic operations through the mount with plain syscalls, in
// both data modes.
func TestOps(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts fuseserve.Options
	}{
		{"passthrough", fuseserve.Options{}},
		{"close-to-open", fuseserve.Options{DisablePassthrough: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			m := mustMount(t, mode.opts)
			for _, tc := range opsCases {
				t.Run(tc.name, func(t *testing.T) {
					sub := m.path(tc.name)
					if err := os.Mkdir(sub, 0o755); err != nil {
						t.Fatal(err)
					}
					tc.run(t, sub)
				})
			}
		})
	}
}

var opsCases = []struct {
	name string
	run  func(t *testing.T, dir string)
}{
	{"readwrite", func(t *testing.T, dir string) {
		p := dir + "/f"
		fd := mustOpen(t, p, unix.O_CREAT|unix.O_RDWR, 0o644)
		if n, err := unix.Pwrite(fd, []byte("hello world"), 0); n != 11 || err != nil {
			t.Fatalf("pwrite = %d, %v", n, err)
		}
		buf := make([]byte, 64)
		if n, err := unix.Pread(fd, buf, 6); err != nil || string(buf[:n]) != "world" {
			t.Fatalf("pread = %q, %v", buf[:n], err)
		}
		if st := mustStat(t, p); st.Size != 11 || st.Mode != unix.S_IFREG|0o644 || st.Nlink != 1 {
			t.Fatalf("stat = size %d mode %o nlink %d", st.Size, st.Mode, st.Nlink)
		}
		// O_TRUNC travels with OPEN (ATOMIC_O_TRUNC).
		mustWriteFile(t, p, []byte("x"))
		if b, _ := os.ReadFile(p); string(b) != "x" {
			t.Fatalf("after O_TRUNC rewrite: %q", b)
		}
		// O_APPEND.
		afd := mustOpen(t, p, unix.O_WRONLY|unix.O_APPEND, 0)
		unix.Write(afd, []byte("yz"))
		if b, _ := os.ReadFile(p); string(b) != "xyz" {
			t.Fatalf("after append: %q", b)
		}
	}},
	{"dirs", func(t *testing.T, dir string) {
		if err := unix.Mkdir(dir+"/d", 0o750); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, dir+"/d"); st.Mode != unix.S_IFDIR|0o750 || st.Nlink != 2 {
			t.Fatalf("mkdir: mode %o nlink %d", st.Mode, st.Nlink)
		}
		if err := unix.Mkdir(dir+"/d", 0o750); err != unix.EEXIST {
			t.Fatalf("mkdir again: %v, want EEXIST", err)
		}
		mustWriteFile(t, dir+"/d/f", nil)
		if err := unix.Rmdir(dir + "/d"); err != unix.ENOTEMPTY {
			t.Fatalf("rmdir non-empty: %v", err)
		}
		if err := unix.Unlink(dir + "/d/f"); err != nil {
			t.Fatal(err)
		}
		if err := unix.Rmdir(dir + "/d"); err != nil {
			t.Fatal(err)
		}
		if err := unix.Access(dir+"/d", unix.F_OK); err != unix.ENOENT {
			t.Fatalf("after rmdir: %v", err)
		}
	}},
	{"links", func(t *testing.T, dir string) {
		mustWriteFile(t, dir+"/a", []byte("A"))
		if err := unix.Link(dir+"/a", dir+"/b"); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, dir+"/b"); st.Nlink != 2 {
			t.Fatalf("nlink after link = %d", st.Nlink)
		}
		if err := unix.Symlink("a", dir+"/s"); err != nil {
			t.Fatal(err)
		}
		if target, err := os.Readlink(dir + "/s"); err != nil || target != "a" {
			t.Fatalf("readlink = %q, %v", target, err)
		}
		if b, err := os.ReadFile(dir + "/s"); err != nil || string(b) != "A" {
			t.Fatalf("read through symlink = %q, %v", b, err)
		}
		if err := unix.Mkfifo(dir+"/fifo", 0o600); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, dir+"/fifo"); st.Mode != unix.S_IFIFO|0o600 {
			t.Fatalf("fifo mode %o", st.Mode)
		}
		if err := unix.Mknod(dir+"/null", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, dir+"/null"); st.Rdev != unix.Mkdev(1, 3) {
			t.Fatalf("rdev = %x, want %x", st.Rdev, unix.Mkdev(1, 3))
		}
	}},
	{"rename", func(t *testing.T, dir string) {
		mustWriteFile(t, dir+"/a", []byte("A"))
		mustWriteFile(t, dir+"/b", []byte("B"))
		if err := unix.Renameat2(unix.AT_FDCWD, dir+"/a", unix.AT_FDCWD, dir+"/b", unix.RENAME_NOREPLACE); err != unix.EEXIST {
			t.Fatalf("RENAME_NOREPLACE onto existing: %v", err)
		}
		if err := unix.Renameat2(unix.AT_FDCWD, dir+"/a", unix.AT_FDCWD, dir+"/b", unix.RENAME_EXCHANGE); err != nil {
			t.Fatal(err)
		}
		if a, _ := os.ReadFile(dir + "/a"); string(a) != "B" {
			t.Fatalf("after exchange a = %q", a)
		}
		if err := os.Rename(dir+"/a", dir+"/c"); err != nil {
			t.Fatal(err)
		}
		if c, _ := os.ReadFile(dir + "/c"); string(c) != "B" {
			t.Fatalf("after rename c = %q", c)
		}
		if err := unix.Access(dir+"/a", unix.F_OK); err != unix.ENOENT {
			t.Fatalf("old name after rename: %v", err)
		}
	}},
	{"setattr", func(t *testing.T, dir string) {
		p := dir + "/f"
		mustWriteFile(t, p, []byte("0123456789"))
		if err := unix.Chmod(p, 0o4751); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chown(p, 1000, 1000); err != nil {
			t.Fatal(err)
		}
		st := mustStat(t, p)
		if st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o751 {
			t.Fatalf("after chmod 4751 + chown: uid %d gid %d mode %o (chown clears suid)", st.Uid, st.Gid, st.Mode)
		}
		if err := unix.Truncate(p, 3); err != nil {
			t.Fatal(err)
		}
		fd := mustOpen(t, p, unix.O_RDWR, 0)
		if err := unix.Ftruncate(fd, 5); err != nil { // SETATTR with FATTR_FH
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, []byte("012\x00\x00")) {
			t.Fatalf("after truncates: %q", b)
		}
		ts := []unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, p); st.Atim != ts[0] || st.Mtim != ts[1] {
			t.Fatalf("utimensat: atime %v mtime %v", st.Atim, st.Mtim)
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}, 0); err != nil {
			t.Fatal(err)
		}
		if st := mustStat(t, p); st.Atim != ts[0] || st.Mtim.Sec < 1_000_000_000 {
			t.Fatalf("utimensat OMIT/NOW: atime %v mtime %v", st.Atim, st.Mtim)
		}
	}},
	{"xattr", func(t *testing.T, dir string) {
		p := dir + "/f"
		mustWriteFile(t, p, nil)
		if err := unix.Setxattr(p, "user.k", []byte("value"), 0); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(p, "user.k", []byte("v"), unix.XATTR_CREATE); err != unix.EEXIST {
			t.Fatalf("XATTR_CREATE on existing: %v", err)
		}
		if n, err := unix.Getxattr(p, "user.k", nil); n != 5 || err != nil {
			t.Fatalf("size probe = %d, %v", n, err)
		}
		if _, err := unix.Getxattr(p, "user.k", make([]byte, 2)); err != unix.ERANGE {
			t.Fatalf("small buffer: %v, want ERANGE", err)
		}
		buf := make([]byte, 64)
		if n, err := unix.Getxattr(p, "user.k", buf); err != nil || string(buf[:n]) != "value" {
			t.Fatalf("getxattr = %q, %v", buf[:n], err)
		}
		unix.Setxattr(p, "user.other", nil, 0)
		if n, err := unix.Listxattr(p, nil); n != len("user.k\x00user.other\x00") || err != nil {
			t.Fatalf("list size probe = %d, %v", n, err)
		}
		if _, err := unix.Listxattr(p, make([]byte, 3)); err != unix.ERANGE {
			t.Fatalf("list small buffer: %v", err)
		}
		n, err := unix.Listxattr(p, buf)
		if err != nil {
			t.Fatalf("listxattr: %v", err)
		}
		names := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
		slices.Sort(names)
		if !slices.Equal(names, []string{"user.k", "user.other"}) {
			t.Fatalf("listxattr = %q", names)
		}
		if err := unix.Removexattr(p, "user.k"); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Getxattr(p, "user.k", buf); err != unix.ENODATA {
			t.Fatalf("after remove: %v", err)
		}
	}},
	{"fallocate_seek", func(t *testing.T, dir string) {
		fd := mustOpen(t, dir+"/f", unix.O_CREAT|unix.O_RDWR, 0o644)
		if err := unix.Fallocate(fd, 0, 0, 8192); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if st.Size != 8192 || st.Blocks != 16 {
			t.Fatalf("after fallocate: size %d blocks %d", st.Size, st.Blocks)
		}
		// Written data; fallocated tmpfs pages count as holes for SEEK_DATA.
		if _, err := unix.Pwrite(fd, make([]byte, 4096), 1<<20); err != nil {
			t.Fatal(err)
		}
		if off, err := unix.Seek(fd, 0, unix.SEEK_DATA); err != nil || off != 1<<20 {
			t.Fatalf("SEEK_DATA = %d, %v", off, err)
		}
		if off, err := unix.Seek(fd, 1<<20, unix.SEEK_HOLE); err != nil || off != 1<<20+4096 {
			t.Fatalf("SEEK_HOLE = %d, %v", off, err)
		}
		if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 1<<20, 4096); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fsync(fd); err != nil {
			t.Fatal(err)
		}
		dfd := mustOpen(t, dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err := unix.Fsync(dfd); err != nil {
			t.Fatalf("fsync dir: %v", err)
		}
	}},
	{"statfs", func(t *testing.T, dir string) {
		var sf unix.Statfs_t
		if err := unix.Statfs(dir, &sf); err != nil {
			t.Fatal(err)
		}
		if sf.Namelen != 255 || sf.Bsize == 0 || sf.Blocks == 0 {
			t.Fatalf("statfs = %+v", sf)
		}
	}},
	{"namemax", func(t *testing.T, dir string) {
		long := strings.Repeat("n", 256)
		if err := unix.Access(dir+"/"+long, unix.F_OK); err != unix.ENAMETOOLONG {
			t.Fatalf("lookup of 256 bytes: %v, want ENAMETOOLONG", err)
		}
		if _, err := unix.Open(dir+"/"+long, unix.O_CREAT|unix.O_WRONLY, 0o644); err != unix.ENAMETOOLONG {
			t.Fatalf("create of 256 bytes: %v, want ENAMETOOLONG", err)
		}
		if err := unix.Mkdir(dir+"/"+long, 0o755); err != unix.ENAMETOOLONG {
			t.Fatalf("mkdir of 256 bytes: %v, want ENAMETOOLONG", err)
		}
		mustWriteFile(t, dir+"/"+long[:255], nil)
	}},
}
