package fsimpl

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestXattr(t *testing.T) {
	big := make([]byte, xattrSizeMax+1)
	type op func(fs *FS) unix.Errno
	set := func(c *Cred, path, name string, v []byte, flags int) op {
		return func(fs *FS) unix.Errno { return fs.SetXattr(c, mustWalk(t, fs, path), name, v, flags) }
	}
	get := func(c *Cred, path, name string) op {
		return func(fs *FS) unix.Errno { _, e := fs.GetXattr(c, mustWalk(t, fs, path), name); return e }
	}
	remove := func(c *Cred, path, name string) op {
		return func(fs *FS) unix.Errno { return fs.RemoveXattr(c, mustWalk(t, fs, path), name) }
	}
	tests := []struct {
		name string
		op   op
		want unix.Errno
	}{
		{"set user on file", set(alice, "f", "user.x", []byte("1"), 0), 0},
		{"set user on dir", set(alice, "d", "user.x", []byte("1"), 0), 0},
		{"set empty value", set(alice, "f", "user.x", nil, 0), 0},
		{"set user on symlink", set(Root, "l", "user.x", []byte("1"), 0), unix.EPERM},
		{"set user on fifo", set(Root, "p", "user.x", []byte("1"), 0), unix.EPERM},
		{"get user on fifo", get(Root, "p", "user.x"), unix.ENODATA},
		{"set user without write", set(carol, "f", "user.x", []byte("1"), 0), unix.EACCES},
		{"set user writer non-owner", set(carol, "w", "user.x", []byte("1"), 0), 0},
		{"set user sticky dir non-owner", set(carol, "sticky", "user.x", []byte("1"), 0), unix.EPERM},
		{"set user sticky dir owner", set(alice, "sticky", "user.x", []byte("1"), 0), 0},
		{"get user without read", get(carol, "secret", "user.s"), unix.EACCES},
		{"get user", get(carol, "f", "user.had"), 0},
		{"get missing", get(alice, "f", "user.nope"), unix.ENODATA},
		{"set trusted root", set(Root, "f", "trusted.x", []byte("1"), 0), 0},
		{"set trusted user", set(alice, "f", "trusted.x", []byte("1"), 0), unix.EPERM},
		{"get trusted user", get(alice, "f", "trusted.had"), unix.ENODATA},
		{"get trusted root", get(Root, "f", "trusted.had"), 0},
		{"remove trusted user", remove(alice, "f", "trusted.had"), unix.EPERM},
		{"set trusted on symlink root", set(Root, "l", "trusted.x", []byte("1"), 0), 0},
		{"security", set(Root, "f", "security.selinux", []byte("1"), 0), unix.EOPNOTSUPP},
		{"system", get(Root, "f", "system.posix_acl_access"), unix.EOPNOTSUPP},
		{"unknown prefix", set(Root, "f", "foo.bar", []byte("1"), 0), unix.EOPNOTSUPP},
		{"no prefix", set(Root, "f", "user", []byte("1"), 0), unix.EOPNOTSUPP},
		{"bare prefix", set(Root, "f", "user.", []byte("1"), 0), unix.EINVAL},
		{"empty name", set(Root, "f", "", []byte("1"), 0), unix.ERANGE},
		{"name 255", set(Root, "f", "user."+strings.Repeat("n", 250), []byte("1"), 0), 0},
		{"name 256", set(Root, "f", "user."+strings.Repeat("n", 251), []byte("1"), 0), unix.ERANGE},
		{"get name 256", get(Root, "f", "user."+strings.Repeat("n", 251)), unix.ERANGE},
		{"value 64k", set(Root, "f", "user.big", big[:xattrSizeMax], 0), 0},
		{"value too big", set(Root, "f", "user.big", big, 0), unix.E2BIG},
		{"create exists", set(Root, "f", "user.had", []byte("1"), XattrCreate), unix.EEXIST},
		{"create new", set(Root, "f", "user.new", []byte("1"), XattrCreate), 0},
		{"replace missing", set(Root, "f", "user.new", []byte("1"), XattrReplace), unix.ENODATA},
		{"replace exists", set(Root, "f", "user.had", []byte("1"), XattrReplace), 0},
		{"bad flags", set(Root, "f", "user.had", []byte("1"), 4), unix.EINVAL},
		{"remove", remove(alice, "f", "user.had"), 0},
		{"remove missing", remove(alice, "f", "user.nope"), unix.ENODATA},
		{"remove without write", remove(carol, "f", "user.had"), unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := xattrTree(t)
			if got := tc.op(fs); got != tc.want {
				t.Fatalf("got %s, want %s", errStr(got), errStr(tc.want))
			}
		})
	}
}

// xattrTree: /f alice 0644 with user.had and trusted.had; /w alice 0666;
// /secret alice 0600 with user.s; /d alice dir; /sticky alice 01777 dir;
// /l symlink; /p fifo.
func xattrTree(tb testing.TB) *FS {
	tb.Helper()
	fs := newTestFS(tb, Options{Backing: BackingShm})
	for _, p := range []struct {
		name string
		mode uint32
	}{{"f", 0o644}, {"w", 0o666}, {"secret", 0o600}} {
		mustFile(tb, fs, Root, p.name, 0o644, "")
		mustChown(tb, fs, p.name, 1000, 1000)
		mustChmod(tb, fs, p.name, p.mode)
	}
	for _, d := range []string{"d", "sticky"} {
		mustMkdir(tb, fs, Root, d, 0o777)
		mustChown(tb, fs, d, 1000, 1000)
	}
	mustChmod(tb, fs, "sticky", 0o1777)
	a, e := fs.Symlink(Root, RootIno, "l", "f")
	if e != 0 {
		tb.Fatal(e)
	}
	fs.Forget(a.Ino, 1)
	if a, e = fs.Mknod(Root, RootIno, "p", unix.S_IFIFO|0o666, 0); e != 0 {
		tb.Fatal(e)
	}
	fs.Forget(a.Ino, 1)
	f := mustWalk(tb, fs, "f")
	for _, x := range []string{"user.had", "trusted.had"} {
		if e := fs.SetXattr(Root, f, x, []byte("v"), 0); e != 0 {
			tb.Fatal(e)
		}
	}
	if e := fs.SetXattr(Root, mustWalk(tb, fs, "secret"), "user.s", []byte("v"), 0); e != 0 {
		tb.Fatal(e)
	}
	return fs
}

func TestXattrListAndValues(t *testing.T) {
	fs := xattrTree(t)
	f := mustWalk(t, fs, "f")
	if e := fs.SetXattr(alice, f, "user.a", []byte("alpha"), 0); e != 0 {
		t.Fatal(e)
	}
	if v, e := fs.GetXattr(carol, f, "user.a"); e != 0 || string(v) != "alpha" {
		t.Errorf("get: %q %v", v, e)
	}
	tests := []struct {
		c    *Cred
		want []string
	}{
		{Root, []string{"trusted.had", "user.a", "user.had"}},
		{alice, []string{"user.a", "user.had"}},
		{carol, []string{"user.a", "user.had"}},
	}
	for _, tc := range tests {
		got, e := fs.ListXattr(tc.c, f)
		if e != 0 || !slices.Equal(got, tc.want) {
			t.Errorf("list as %d: %v %v, want %v", tc.c.UID, got, e, tc.want)
		}
	}
	before := mustAttr(t, fs, f)
	if e := fs.RemoveXattr(alice, f, "user.a"); e != 0 {
		t.Fatal(e)
	}
	if after := mustAttr(t, fs, f); tsAfter(before.Ctime, after.Ctime) {
		t.Errorf("ctime went back")
	}
	if _, e := fs.GetXattr(alice, f, "user.a"); e != unix.ENODATA {
		t.Errorf("after remove: %v", e)
	}
}

// TestXattrSpaceLikeTmpfs: xattrs are charged to the inode space as tmpfs
// charges them (mm/shmem.c: max_inodes * BOGO_INODE_SIZE, shared by
// inodes, extra links and xattrs), so that the same sequence of setxattr
// calls runs out (ENOSPC) at the same call, and statfs's free inodes drop
// alike. btfuse kept every xattr without a limit.
func TestXattrSpaceLikeTmpfs(t *testing.T) {
	requirePrivileged(t)
	for _, inodes := range []uint64{2, 10, 25} {
		for _, size := range []int{0, 1, 100, 1000, 4000, 65536} {
			t.Run(fmt.Sprintf("inodes=%d/size=%d", inodes, size), func(t *testing.T) {
				dir := t.TempDir()
				if err := unix.Mount("none", dir, "tmpfs", 0, fmt.Sprintf("nr_inodes=%d", inodes)); err != nil {
					t.Fatal(err)
				}
				defer unix.Unmount(dir, unix.MNT_DETACH)
				fs := newTestFS(t, Options{Backing: BackingShm, Inodes: inodes})
				ref := dir + "/f"
				if err := os.WriteFile(ref, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				ino := mustFile(t, fs, Root, "f", 0o644, "")
				value := make([]byte, size)
				step := func(what string, kernel error, e unix.Errno) {
					t.Helper()
					if errnoOf(kernel) != e {
						t.Fatalf("%s: tmpfs %v, fsimpl %s", what, kernel, errStr(e))
					}
				}
				var n int
				for n = 0; n < 1000; n++ {
					name := fmt.Sprintf("user.x%d", n)
					kerr := unix.Setxattr(ref, name, value, 0)
					step("set "+name, kerr, fs.SetXattr(Root, ino, name, value, 0))
					if kerr != nil {
						break
					}
				}
				var st unix.Statfs_t
				if err := unix.Statfs(dir, &st); err != nil {
					t.Fatal(err)
				}
				if got := fs.StatFs(); got.Ffree != st.Ffree || got.Files != st.Files {
					t.Errorf("after %d xattrs: statfs files %d free %d, tmpfs %d %d", n, got.Files, got.Ffree, st.Files, st.Ffree)
				}
				// Full: even a replacement is refused; a new file too.
				if n > 0 {
					step("replace user.x0", unix.Setxattr(ref, "user.x0", value, unix.XATTR_REPLACE),
						fs.SetXattr(Root, ino, "user.x0", value, XattrReplace))
					step("remove user.x0", unix.Removexattr(ref, "user.x0"), fs.RemoveXattr(Root, ino, "user.x0"))
					step("set user.x0 again", unix.Setxattr(ref, "user.x0", value, 0), fs.SetXattr(Root, ino, "user.x0", value, 0))
				}
				_, kerr := os.Create(dir + "/g")
				_, f, e := fs.Create(Root, RootIno, "g", unix.O_CREAT|unix.O_WRONLY, 0o644)
				fs.Release(f)
				step("create g", kerr, e)
			})
		}
	}
}
