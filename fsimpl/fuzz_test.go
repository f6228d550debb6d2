package fsimpl

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzNames feeds arbitrary names to the name operations (the single
// components the FUSE door hands on) and checks them against the kernel,
// not against a copy of fsimpl's rules: each operation runs on fsimpl and,
// with the same name, on a directory of a kernel tmpfs in the same state,
// and must give the same errno and leave the same entries behind. A name
// the kernel cannot pass as one component (a '/' or a NUL in it) must fail
// and change nothing. Nothing may panic, and link counts must stay right.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a", "a/b", "/", "a\x00b", strings.Repeat("x", 255), strings.Repeat("x", 256), "f", "d", "\xff\xfe"} {
		f.Add(s, "b")
		f.Add("a", s)
	}
	fs := newTestFS(f, Options{Backing: BackingShm})
	ref := tmpfsDir(f) // skips (or fails) without privileges
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
		k := mustKernelDir(t, ref+"/w")
		mustFileIn(t, fs, d.Ino, "f")
		if a, e := fs.Mkdir(Root, d.Ino, "d", 0o755); e == 0 {
			fs.Forget(a.Ino, 1)
		}
		for _, op := range nameOps(fs, d.Ino, k, name, name2) {
			before := fsNames(t, fs, d.Ino)
			got := op.fsimpl()
			after := fsNames(t, fs, d.Ino)
			if strings.ContainsAny(op.arg, "/\x00") {
				if got == 0 || after != before {
					t.Errorf("%s(%q) = %s and left %s (was %s); a name with '/' or NUL must fail and change nothing",
						op.name, op.arg, errStr(got), after, before)
				}
				continue
			}
			want := op.kernel()
			if got != want {
				t.Errorf("%s(%q) = %s, the kernel's tmpfs %s", op.name, op.arg, errStr(got), errStr(want))
			}
			if wantNames := kernelNames(t, k); after != wantNames {
				t.Errorf("after %s(%q): fsimpl has %s, the kernel's tmpfs %s", op.name, op.arg, after, wantNames)
			}
		}
		checkLinkCounts(t, fs)
	})
}

// nameOp is one name operation, on fsimpl and on the kernel's directory
// k; arg is the fuzzed name it takes.
type nameOp struct {
	name, arg      string
	fsimpl, kernel func() unix.Errno
}

func nameOps(fs *FS, dir Ino, k int, name, name2 string) []nameOp {
	flags := uint32(len(name) % 4) // 3 is RENAME_NOREPLACE|RENAME_EXCHANGE: EINVAL
	forget := func(a Attr, e unix.Errno) unix.Errno {
		if e == 0 {
			fs.Forget(a.Ino, 1)
		}
		return e
	}
	return []nameOp{
		{"lookup", name, func() unix.Errno { return forget(fs.Lookup(Root, dir, name)) },
			func() unix.Errno {
				var st unix.Stat_t
				return errnoOf(unix.Fstatat(k, name, &st, unix.AT_SYMLINK_NOFOLLOW))
			}},
		{"mkdir", name, func() unix.Errno { return forget(fs.Mkdir(Root, dir, name, 0o755)) },
			func() unix.Errno { return errnoOf(unix.Mkdirat(k, name, 0o755)) }},
		{"create", name, func() unix.Errno {
			a, fl, e := fs.Create(Root, dir, name, unix.O_CREAT|unix.O_RDWR, 0o644)
			if e == 0 {
				fs.Release(fl)
			}
			return forget(a, e)
		}, func() unix.Errno {
			fd, err := unix.Openat(k, name, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			return errnoOf(err)
		}},
		{"rename from", name, func() unix.Errno { return fs.Rename(Root, dir, name, dir, "r", 0) },
			func() unix.Errno { return errnoOf(unix.Renameat2(k, name, k, "r", 0)) }},
		{"rename to", name2, func() unix.Errno { return fs.Rename(Root, dir, "f", dir, name2, flags) },
			func() unix.Errno { return errnoOf(unix.Renameat2(k, "f", k, name2, uint(flags))) }},
		{"unlink", name, func() unix.Errno { return fs.Unlink(Root, dir, name) },
			func() unix.Errno { return errnoOf(unix.Unlinkat(k, name, 0)) }},
		{"rmdir", name, func() unix.Errno { return fs.Rmdir(Root, dir, name) },
			func() unix.Errno { return errnoOf(unix.Unlinkat(k, name, unix.AT_REMOVEDIR)) }},
	}
}

// mustKernelDir makes dir afresh with a file f and a directory d, as the
// fuzz body makes w in fsimpl, and returns a descriptor of it, closed and
// the directory removed when the test ends.
func mustKernelDir(tb testing.TB, dir string) int {
	tb.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dir+"/f", nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(dir+"/d", 0o755); err != nil {
		tb.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		unix.Close(fd)
		if err := os.RemoveAll(dir); err != nil {
			tb.Error(err)
		}
	})
	return fd
}

// fsNames lists directory dir of fs as "name:type ...", sorted.
func fsNames(tb testing.TB, fs *FS, dir Ino) string {
	tb.Helper()
	var names []string
	e := fs.ReadDir(dir, dotDotCookie, func(d Dirent) bool {
		names = append(names, fmt.Sprintf("%q:%o", d.Name, d.Mode>>12))
		return true
	})
	if e != 0 {
		tb.Fatalf("readdir: %v", e)
	}
	sort.Strings(names)
	return "[" + strings.Join(names, " ") + "]"
}

// kernelNames lists the kernel's directory k as fsNames lists fsimpl's.
func kernelNames(tb testing.TB, k int) string {
	tb.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/self/fd/%d", k))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, d := range ents {
		var st unix.Stat_t
		if err := unix.Fstatat(k, d.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			tb.Fatal(err)
		}
		names = append(names, fmt.Sprintf("%q:%o", d.Name(), st.Mode>>12))
	}
	sort.Strings(names)
	return "[" + strings.Join(names, " ") + "]"
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
	fs.ReadDir(dir, dotDotCookie, func(d Dirent) bool { ents = append(ents, d); return true })
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
