package fsimpl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// genOp draws a random operation.
func genOp(r *rand.Rand) diffOp {
	parents := []string{"", "a", "a/b", "c", "c/d", "f", "a/x"}
	names := []string{"a", "b", "c", "d", "f", "x", "y"}
	path := func() string {
		name := names[r.IntN(len(names))]
		if r.IntN(25) == 0 {
			name = []string{".", ".."}[r.IntN(2)]
		}
		p := parents[r.IntN(len(parents))]
		if p == "" && name == ".." {
			name = "." // never climb out of the reference mount
		}
		if p == "" {
			return name
		}
		return p + "/" + name
	}
	modes := []uint32{0o755, 0o777, 0o1777, 0o2775, 0o2777, 0o700, 0o644, 0o666, 0o600, 0o444, 0o555, 0o6755, 0o2745, 0o711, 0}
	ids := []uint32{0, 1000, 1001, 1002}
	o := diffOp{
		c:    []*Cred{Root, Root, alice, bob, carol}[r.IntN(5)],
		p:    path(),
		p2:   path(),
		mode: modes[r.IntN(len(modes))],
	}
	kinds := []string{"mkdir", "mkdir", "mknod", "open", "open", "open", "unlink", "rmdir", "rename", "rename", "link",
		"symlink", "readlink", "chmod", "chmod", "chown", "truncate", "utimens", "setxattr", "getxattr", "removexattr", "access",
		"write", "write"}
	o.kind = kinds[r.IntN(len(kinds))]
	switch o.kind {
	case "mknod":
		t := []uint32{unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFREG, unix.S_IFCHR, unix.S_IFCHR}[r.IntN(5)]
		o.mode |= t
		if t == unix.S_IFCHR && r.IntN(2) == 0 {
			o.n = 0x0103
		}
	case "open":
		o.flags = []int{
			unix.O_CREAT | unix.O_EXCL | unix.O_RDWR, unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC,
			unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR | unix.O_TRUNC, unix.O_RDONLY | unix.O_TRUNC,
			unix.O_CREAT | unix.O_RDONLY, unix.O_WRONLY | unix.O_APPEND, unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY,
		}[r.IntN(9)]
	case "rename":
		o.flags = []int{0, 0, unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE, unix.RENAME_WHITEOUT}[r.IntN(5)]
	case "chown":
		o.n = uint64(ids[r.IntN(4)])<<32 | uint64(ids[r.IntN(4)])
	case "truncate":
		o.n = []uint64{0, 10, 5000}[r.IntN(3)]
	case "write":
		o.n = []uint64{0, 7, 9000, 1 << 33}[r.IntN(4)]
	case "utimens":
		o.flags = r.IntN(3)
	case "setxattr", "getxattr", "removexattr":
		o.xname = []string{"user.a", "user.b", "trusted.t"}[r.IntN(3)]
		o.flags = []int{0, 0, unix.XATTR_CREATE, unix.XATTR_REPLACE}[r.IntN(4)]
	case "access":
		o.mode = uint32(r.IntN(8))
	}
	return o
}

// dumpReal describes every inode under base, by path.
func dumpReal(tb testing.TB, base string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	var visit func(rel string)
	visit = func(rel string) {
		p := base
		if rel != "" {
			p += "/" + rel
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			tb.Fatalf("lstat %s: %v", p, err)
		}
		desc := fmt.Sprintf("mode %o nlink %d owner %d:%d rdev %x", st.Mode, st.Nlink, st.Uid, st.Gid, st.Rdev)
		if st.Mode&unix.S_IFMT != unix.S_IFCHR {
			desc += fmt.Sprintf(" size %d", st.Size)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			buf := make([]byte, 256)
			n, _ := unix.Readlink(p, buf)
			desc += " -> " + string(buf[:n])
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			var xs []string
			for _, x := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
				v := make([]byte, 64)
				m, _ := unix.Lgetxattr(p, x, v)
				xs = append(xs, x+"="+string(v[:m]))
			}
			slices.Sort(xs)
			desc += " xattrs " + strings.Join(xs, ",")
		}
		out[rel] = desc
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return
		}
		ents, err := readNames(p)
		if err != nil {
			tb.Fatal(err)
		}
		for _, name := range ents {
			if rel == "" {
				visit(name)
			} else {
				visit(rel + "/" + name)
			}
		}
	}
	visit("")
	return out
}

func readNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 1<<16)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// dumpFsimpl describes every inode of fs the way dumpReal does.
func dumpFsimpl(tb testing.TB, fs *FS) map[string]string {
	tb.Helper()
	out := map[string]string{}
	var visit func(rel string, ino Ino)
	visit = func(rel string, ino Ino) {
		a := mustAttr(tb, fs, ino)
		desc := fmt.Sprintf("mode %o nlink %d owner %d:%d rdev %x", a.Mode, a.Nlink, a.UID, a.GID, a.Rdev)
		if a.Mode&unix.S_IFMT != unix.S_IFCHR {
			desc += fmt.Sprintf(" size %d", a.Size)
		}
		if a.Mode&unix.S_IFMT == unix.S_IFLNK {
			t, _ := fs.Readlink(Root, ino)
			desc += " -> " + t
		}
		if xs, _ := fs.ListXattr(Root, ino); len(xs) > 0 {
			var kv []string
			for _, x := range xs {
				v, _ := fs.GetXattr(Root, ino, x)
				kv = append(kv, x+"="+string(v))
			}
			slices.Sort(kv)
			desc += " xattrs " + strings.Join(kv, ",")
		}
		out[rel] = desc
		if a.Mode&unix.S_IFMT != unix.S_IFDIR {
			return
		}
		var ents []Dirent
		fs.ReadDir(ino, dotDotCookie, func(d Dirent) bool { ents = append(ents, d); return true })
		for _, d := range ents {
			if rel == "" {
				visit(d.Name, d.Ino)
			} else {
				visit(rel+"/"+d.Name, d.Ino)
			}
		}
	}
	visit("", RootIno)
	return out
}

// diffSeeds is how many random sequences TestDifferentialTmpfs runs:
// BTFUSE_DIFF_SEEDS, else 8 (2 with -short).
func diffSeeds() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("BTFUSE_DIFF_SEEDS"), 10, 64); err == nil {
		return n
	}
	if testing.Short() {
		return 2
	}
	return 8
}

func TestDifferentialTmpfs(t *testing.T) {
	base := tmpfsDir(t) // skips without privileges
	old := unix.Umask(0)
	t.Cleanup(func() { unix.Umask(old) })
	fd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	real := realFS{fd: fd}
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= diffSeeds(); seed++ {
				fs := newTestFS(t, Options{Backing: kind})
				clearReal(t, base)
				r := rand.New(rand.NewPCG(seed, 99))
				var log []string
				for i := 0; i < 1500; i++ {
					o := genOp(r)
					wantOut, want := real.do(o)
					if want&(1<<30) != 0 {
						t.Fatalf("switching credentials: %v", want&^(1<<30))
					}
					gotOut, got := fsimplDo(t, fs, o)
					log = append(log, fmt.Sprintf("%s -> %s", o, errStr(want)))
					if got != want || gotOut != wantOut {
						t.Fatalf("seed %d step %d: %s\n  tmpfs: %s %q\n  fsimpl: %s %q\nrecent:\n  %s", seed, i, o,
							errStr(want), wantOut, errStr(got), gotOut, strings.Join(log[max(0, len(log)-12):], "\n  "))
					}
					if i%50 == 49 {
						compareTrees(t, dumpReal(t, base), dumpFsimpl(t, fs), log)
					}
				}
				compareTrees(t, dumpReal(t, base), dumpFsimpl(t, fs), log)
			}
		})
	}
}

func compareTrees(tb testing.TB, want, got map[string]string, log []string) {
	tb.Helper()
	bad := false
	for p, w := range want {
		if g := got[p]; g != w {
			tb.Errorf("%q:\n  tmpfs:  %s\n  fsimpl: %s", p, w, g)
			bad = true
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			tb.Errorf("%q only in fsimpl: %s", p, g)
			bad = true
		}
	}
	if bad {
		tb.Fatalf("trees differ; recent ops:\n  %s", strings.Join(log[max(0, len(log)-12):], "\n  "))
	}
}

// clearReal empties the reference tmpfs and resets its root.
func clearReal(tb testing.TB, base string) {
	tb.Helper()
	names, err := readNames(base)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		if err := removeAll(base + "/" + n); err != nil {
			tb.Fatal(err)
		}
	}
	if err := unix.Chmod(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Chown(base, 0, 0); err != nil {
		tb.Fatal(err)
	}
	for _, x := range []string{"user.a", "user.b", "trusted.t"} {
		unix.Removexattr(base, x)
	}
}

func removeAll(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		unix.Chmod(p, 0o755)
		names, err := readNames(p)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeAll(p + "/" + n); err != nil {
				return err
			}
		}
		return unix.Rmdir(p)
	}
	return unix.Unlink(p)
}
