package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/testutil"
)

// opsTranscript runs the mutating path syscalls in dir, root first and
// then as nobody, and returns one line per call: what it did and the
// result or errno. The same transcript must come out of a tmpfs directory
// run natively and of the mount run supervised.
func opsTranscript(dir string) string {
	var b strings.Builder
	say := func(what string, err error) {
		r := "ok"
		if err != nil {
			r = unix.ErrnoName(err.(unix.Errno))
		}
		fmt.Fprintf(&b, "%-40s %s\n", what, r)
	}
	stat := func(p string) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			say("lstat "+p, err)
			return
		}
		fmt.Fprintf(&b, "%-40s mode %o nlink %d uid %d gid %d size %d mtime %d\n", "lstat "+p,
			st.Mode, st.Nlink, st.Uid, st.Gid, st.Size, st.Mtim.Sec)
	}
	unix.Umask(0o022)
	if err := unix.Chdir(dir); err != nil {
		return err.Error()
	}
	say("create f", os.WriteFile("f", []byte("hello"), 0o644))

	say("mkdir d", unix.Mkdir("d", 0o755))
	say("mkdir d (again)", unix.Mkdir("d", 0o755))
	say("mkdir d/", unix.Mkdir("d/", 0o755))
	say("mkdir s/ (new, slash)", unix.Mkdir("s/", 0o700))
	say("mkdir nodir/x", unix.Mkdir("nodir/x", 0o755))
	say("mkdir f/x", unix.Mkdir("f/x", 0o755))
	say("mkdir sticky 1777", unix.Mkdir("sticky", 0o1777))
	stat("sticky")
	stat("s")
	if dfd, err := unix.Open("d", unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		say("mkdirat(dfd, sub)", unix.Mkdirat(dfd, "sub", 0o700))
		say("symlinkat(dfd, sl)", unix.Symlinkat("../f", dfd, "sl"))
		say("unlinkat(dfd, sl)", unix.Unlinkat(dfd, "sl", 0))
		unix.Close(dfd)
	} else {
		say("open d", err)
	}
	stat("d/sub")
	say("mknod fifo", unix.Mknod("fifo", unix.S_IFIFO|0o666, 0))
	say("mknod fifo (again)", unix.Mknod("fifo", unix.S_IFIFO|0o666, 0))
	say("mknod reg", unix.Mknod("reg", 0o640, 0))
	stat("fifo")
	stat("reg")

	say("symlink f l", unix.Symlink("f", "l"))
	say("symlink x l (exists)", unix.Symlink("x", "l"))
	say("symlink '' l2", unix.Symlink("", "l2"))
	say("symlink f new/", unix.Symlink("f", "new/"))
	say("symlink dangling", unix.Symlink("nowhere", "dl"))
	say("mkdir dl/ (dangling link)", unix.Mkdir("dl/", 0o755))
	stat("l")

	say("link f h", unix.Link("f", "h"))
	say("link f h (exists)", unix.Link("f", "h"))
	say("link d dh", unix.Link("d", "dh"))
	say("link nope x", unix.Link("nope", "x"))
	say("link f new/", unix.Link("f", "new/"))
	say("linkat l lf FOLLOW", unix.Linkat(unix.AT_FDCWD, "l", unix.AT_FDCWD, "lf", unix.AT_SYMLINK_FOLLOW))
	say("linkat l ll", unix.Linkat(unix.AT_FDCWD, "l", unix.AT_FDCWD, "ll", 0))
	stat("f")
	stat("ll")

	say("rename f g", unix.Rename("f", "g"))
	say("rename g f", unix.Rename("g", "f"))
	say("rename nope x", unix.Rename("nope", "x"))
	say("rename d f (dir over file)", unix.Rename("d", "f"))
	say("rename f d (file over dir)", unix.Rename("f", "d"))
	say("rename d d/sub/x (into itself)", unix.Rename("d", "d/sub/x"))
	say("mkdir e", unix.Mkdir("e", 0o755))
	say("create e/x", os.WriteFile("e/x", nil, 0o644))
	say("rename s e (non-empty target)", unix.Rename("s", "e"))
	say("rename f/ z", unix.Rename("f/", "z"))
	say("rename f z/", unix.Rename("f", "z/"))
	say("renameat2 f h NOREPLACE", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "h", unix.RENAME_NOREPLACE))
	say("renameat2 f d EXCHANGE", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "d", unix.RENAME_EXCHANGE))
	stat("f")
	stat("d")
	say("renameat2 f d EXCHANGE back", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "d", unix.RENAME_EXCHANGE))
	say("renameat2 f nope EXCHANGE", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "nope", unix.RENAME_EXCHANGE))
	say("renameat2 bad flags", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "h", 0x100))
	say("rename h f (same inode)", unix.Rename("h", "f"))
	say("rename s s2", unix.Rename("s", "s2"))
	say("rename f /dev/shm (EXDEV)", unix.Rename("f", fmt.Sprintf("/dev/shm/btfuse-xdev-%d", os.Getpid())))
	say("link f /dev/shm (EXDEV)", unix.Link("f", fmt.Sprintf("/dev/shm/btfuse-xdev-%d", os.Getpid())))

	say("unlink d", unix.Unlink("d"))
	say("unlink nope", unix.Unlink("nope"))
	say("unlink f/", unix.Unlink("f/"))
	say("unlink d/", unix.Unlink("d/"))
	say("rmdir f", unix.Rmdir("f"))
	say("rmdir e", unix.Rmdir("e"))
	say("rmdir l", unix.Rmdir("l"))
	say("rmdir s2/", unix.Rmdir("s2/"))
	say("unlinkat d/sub REMOVEDIR", unix.Unlinkat(unix.AT_FDCWD, "d/sub", unix.AT_REMOVEDIR))
	say("unlinkat bad flag", unix.Unlinkat(unix.AT_FDCWD, "f", 0x1))
	say("unlink ll", unix.Unlink("ll"))
	say("unlink lf", unix.Unlink("lf"))
	stat("f")

	say("chmod f 600", unix.Chmod("f", 0o600))
	say("fchmodat f 4751", unix.Fchmodat(unix.AT_FDCWD, "f", 0o4751, 0))
	stat("f")
	say("chmod l 640 (follows)", unix.Chmod("l", 0o640))
	stat("f")
	say("chown f 1 2", unix.Chown("f", 1, 2))
	say("lchown l 3 4", unix.Lchown("l", 3, 4))
	say("fchownat f -1 5", unix.Fchownat(unix.AT_FDCWD, "f", -1, 5, 0))
	say("fchownat l 6 -1 NOFOLLOW", unix.Fchownat(unix.AT_FDCWD, "l", 6, -1, unix.AT_SYMLINK_NOFOLLOW))
	say("fchownat bad flag", unix.Fchownat(unix.AT_FDCWD, "f", 1, 1, 0x1))
	stat("f")
	stat("l")
	say("chown f 0 0", unix.Chown("f", 0, 0))
	say("truncate f 2", unix.Truncate("f", 2))
	say("truncate f 100", unix.Truncate("f", 100))
	say("truncate d", unix.Truncate("d", 0))
	say("truncate f -1", unix.Truncate("f", -1))
	say("truncate fifo", unix.Truncate("fifo", 0))
	stat("f")
	ts := []unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
	say("utimensat f", unix.UtimesNanoAt(unix.AT_FDCWD, "f", ts, 0))
	stat("f")
	say("utimensat f OMIT OMIT", unix.UtimesNanoAt(unix.AT_FDCWD, "f", []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}, 0))
	say("utimensat nope OMIT OMIT", unix.UtimesNanoAt(unix.AT_FDCWD, "nope", []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}, 0))
	say("utimensat l NOFOLLOW", unix.UtimesNanoAt(unix.AT_FDCWD, "l", []unix.Timespec{{Sec: 3000}, {Sec: 4000}}, unix.AT_SYMLINK_NOFOLLOW))
	say("utimensat f bad nsec", unix.UtimesNanoAt(unix.AT_FDCWD, "f", []unix.Timespec{{Sec: 1, Nsec: 2e9}, {Sec: 1}}, 0))
	stat("l")
	stat("f")

	say("symlink loop1", unix.Symlink("loop2", "loop1"))
	say("symlink loop2", unix.Symlink("loop1", "loop2"))
	say("chmod loop1", unix.Chmod("loop1", 0o600))
	say("truncate loop1", unix.Truncate("loop1", 0))
	say("mkdir loop1/x", unix.Mkdir("loop1/x", 0o755))
	say("unlink loop1 (the link)", unix.Unlink("loop1"))
	var sf unix.Statfs_t
	say("statfs .", unix.Statfs(".", &sf))
	say("statfs nope", unix.Statfs("nope", &sf))
	fmt.Fprintf(&b, "%-40s %d\n", "statfs namelen", sf.Namelen)

	// Extended attributes by path, and a last "." or "..".
	xa := func(what string, v []byte, err error) {
		if err == nil {
			// The order of a list is the filesystem's own (tmpfs
			// keeps no sorted one).
			names := strings.Split(strings.TrimSuffix(string(v), "\x00"), "\x00")
			sort.Strings(names)
			what += " = " + strings.Join(names, ",")
		}
		say(what, err)
	}
	say("setxattr f user.a", unix.Setxattr("f", "user.a", []byte("1"), 0))
	say("setxattr f user.a CREATE", unix.Setxattr("f", "user.a", []byte("2"), unix.XATTR_CREATE))
	say("setxattr f user.b REPLACE", unix.Setxattr("f", "user.b", []byte("2"), unix.XATTR_REPLACE))
	say("setxattr f trusted.t", unix.Setxattr("f", "trusted.t", []byte("t"), 0))
	say("setxattr f bogus.x", unix.Setxattr("f", "bogus.x", nil, 0))
	say("setxattr f empty name", unix.Setxattr("f", "", nil, 0))
	say("setxattr nope user.a", unix.Setxattr("nope", "user.a", nil, 0))
	say("lsetxattr l user.a (symlink)", unix.Lsetxattr("l", "user.a", nil, 0))
	buf := make([]byte, 64)
	n, err := unix.Getxattr("f", "user.a", buf)
	xa("getxattr f user.a", buf[:max(n, 0)], err)
	_, err = unix.Getxattr("f", "user.a", buf[:0])
	say("getxattr f user.a size 0", err)
	_, err = unix.Getxattr("f", "user.zz", buf)
	say("getxattr f user.zz", err)
	n, err = unix.Listxattr("f", buf)
	xa("listxattr f", buf[:max(n, 0)], err)
	_, err = unix.Listxattr("f", buf[:1])
	say("listxattr f small buffer", err)
	say("removexattr f user.a", unix.Removexattr("f", "user.a"))
	say("removexattr f user.a again", unix.Removexattr("f", "user.a"))
	say("mkdir dd", unix.Mkdir("dd", 0o755))
	say("mkdir dd/.", unix.Mkdir("dd/.", 0o755))
	say("mkdir dd/..", unix.Mkdir("dd/..", 0o755))
	say("symlink x dd/.", unix.Symlink("x", "dd/."))
	say("link f dd/..", unix.Link("f", "dd/.."))
	say("unlink dd/.", unix.Unlink("dd/."))
	say("rmdir dd/.", unix.Rmdir("dd/."))
	say("rmdir dd/..", unix.Rmdir("dd/.."))
	say("rename dd/. dd2", unix.Rename("dd/.", "dd2"))
	say("rename f dd/..", unix.Rename("f", "dd/.."))
	say("renameat2 f dd/.. NOREPLACE", unix.Renameat2(unix.AT_FDCWD, "f", unix.AT_FDCWD, "dd/..", unix.RENAME_NOREPLACE))
	say("rmdir dd", unix.Rmdir("dd"))

	// As nobody: the directory is root's and 0755, f is root's 0644.
	say("chmod f 644", unix.Chmod("f", 0o644))
	say("mkdir pub 777", unix.Mkdir("pub", 0o777))
	say("chmod pub 777", unix.Chmod("pub", 0o777))
	say("create pub/rootfile", os.WriteFile("pub/rootfile", nil, 0o644))
	say("mkdir tdir 1777", unix.Mkdir("tdir", 0o777))
	say("chmod tdir 1777", unix.Chmod("tdir", 0o1777))
	say("create tdir/rootfile", os.WriteFile("tdir/rootfile", nil, 0o644))
	if os.Geteuid() != 0 {
		return b.String()
	}
	if err := syscall.Setgid(65534); err != nil {
		return b.String() + "setgid: " + err.Error()
	}
	if err := syscall.Setuid(65534); err != nil {
		return b.String() + "setuid: " + err.Error()
	}
	say("nobody: mkdir x", unix.Mkdir("x", 0o755))
	say("nobody: unlink f", unix.Unlink("f"))
	say("nobody: rename f y", unix.Rename("f", "y"))
	say("nobody: symlink f y", unix.Symlink("f", "y"))
	say("nobody: link f pub/y", unix.Link("f", "pub/y"))
	say("nobody: chmod f 777", unix.Chmod("f", 0o777))
	say("nobody: chown f 65534", unix.Chown("f", 65534, 65534))
	say("nobody: truncate f", unix.Truncate("f", 0))
	say("nobody: utimensat f now", unix.UtimesNanoAt(unix.AT_FDCWD, "f", nil, 0))
	say("nobody: utimensat f explicit", unix.UtimesNanoAt(unix.AT_FDCWD, "f", ts, 0))
	say("nobody: mkdir pub/mine", unix.Mkdir("pub/mine", 0o777))
	stat("pub/mine")
	say("nobody: chmod pub/mine 2700", unix.Chmod("pub/mine", 0o2700))
	say("nobody: chown pub/mine -1 0", unix.Chown("pub/mine", -1, 0))
	say("nobody: rename pub/mine pub/m2", unix.Rename("pub/mine", "pub/m2"))
	say("nobody: unlink pub/rootfile", unix.Unlink("pub/rootfile"))
	say("nobody: unlink tdir/rootfile (sticky)", unix.Unlink("tdir/rootfile"))
	say("nobody: rename tdir/rootfile", unix.Rename("tdir/rootfile", "tdir/z"))
	say("nobody: rmdir pub/m2", unix.Rmdir("pub/m2"))
	say("nobody: statfs .", unix.Statfs(".", &sf))
	say("nobody: setxattr f user.n", unix.Setxattr("f", "user.n", nil, 0))
	_, err = unix.Getxattr("f", "trusted.t", buf)
	say("nobody: getxattr f trusted.t", err)
	n, err = unix.Listxattr("f", buf)
	xa("nobody: listxattr f", buf[:max(n, 0)], err)
	return b.String()
}

func TestRunMutatingDifferential(t *testing.T) {
	b := testutil.StartBtfuse(t)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := New(b.FS, Options{Mount: mount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	var mu sync.Mutex
	served := map[int32]int{}
	var continued []string
	sup.onAnswer = func(nr int32, path string, r result) {
		mu.Lock()
		defer mu.Unlock()
		if !r.cont {
			served[nr]++
			return
		}
		inside := path != "" && (strings.HasPrefix(path, mount) || !strings.HasPrefix(path, "/"))
		switch nr {
		case unix.SYS_CHDIR, unix.SYS_OPENAT, unix.SYS_EXECVE:
			// chdir cannot be served; directory opens go to the
			// kernel by design.
		default:
			if inside {
				continued = append(continued, fmt.Sprintf("%d %q", nr, path))
			}
		}
	}
	s := &supervised{Btfuse: b, mount: mount, sup: sup}

	ref := testutil.TmpfsDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=ops", MountEnv+"="+ref)
	want, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reference run: %v\n%s", err, want)
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=ops")
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s\n%s", code, out, errs)
	}
	// Times of creation differ; the explicit ones set by utimensat are
	// compared.
	norm := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if i := strings.Index(l, " mtime "); i >= 0 {
				var sec int64
				fmt.Sscan(l[i+7:], &sec)
				if sec > 1e9 {
					l = l[:i] + " mtime (now)"
				}
			}
			lines = append(lines, l)
		}
		return strings.Join(lines, "\n")
	}
	if got, w := norm(out+errs), norm(string(want)); got != w {
		t.Errorf("transcripts differ\n%s", lineDiff(w, got))
	}
	// They were served, not passed to the FUSE door, except the two
	// EXDEV cases (the kernel answers them).
	mu.Lock()
	defer mu.Unlock()
	if len(continued) != 2 {
		t.Errorf("CONTINUEd inside the mount: %v", continued)
	}
	for _, nr := range []int32{unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_UNLINKAT, unix.SYS_RENAMEAT2, unix.SYS_SYMLINKAT,
		unix.SYS_LINKAT, unix.SYS_FCHMODAT, unix.SYS_FCHOWNAT, unix.SYS_TRUNCATE, unix.SYS_UTIMENSAT, unix.SYS_STATFS,
		unix.SYS_SETXATTR, unix.SYS_LSETXATTR, unix.SYS_GETXATTR, unix.SYS_LISTXATTR, unix.SYS_REMOVEXATTR} {
		if served[nr] == 0 {
			t.Errorf("syscall %d never served", nr)
		}
	}
}

// lineDiff shows the lines of want and got that differ, side by side.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "tmpfs: %s\nrun:   %s\n", a, c)
		}
	}
	return b.String()
}

// Changes made through run are seen at once through the FUSE door, whose
// entry and attribute caches (1 s) would otherwise show the old state.
func TestRunMutationsVisibleThroughFUSE(t *testing.T) {
	s := startSupervised(t)
	m := s.mount
	for _, p := range []string{"f", "g", "d"} {
		var err error
		if p == "d" {
			err = os.Mkdir(m+"/"+p, 0o755)
		} else {
			err = os.WriteFile(m+"/"+p, []byte("x"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Fill the FUSE door's caches, positive and negative.
	for _, p := range []string{"f", "g", "d", "new", "sl", "h", "nd"} {
		var st unix.Stat_t
		unix.Lstat(m+"/"+p, &st)
	}
	code, out, errs := s.run(t, []string{"sh", "-c", `cd "$BTFUSE_MOUNT" && chmod 600 f && mv g new && rmdir d && mkdir nd && ln -s f sl && ln f h && chown 7:8 h`})
	if code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errs)
	}
	s.Server.FlushInvalidations()
	var st unix.Stat_t
	for _, tt := range []struct {
		path string
		want error
		mode uint32
	}{
		{"f", nil, unix.S_IFREG | 0o600}, {"g", unix.ENOENT, 0}, {"new", nil, unix.S_IFREG | 0o644},
		{"d", unix.ENOENT, 0}, {"nd", nil, unix.S_IFDIR | 0o755}, {"sl", nil, unix.S_IFLNK | 0o777},
		{"h", nil, unix.S_IFREG | 0o600},
	} {
		err := unix.Lstat(m+"/"+tt.path, &st)
		if err != tt.want && !(err == nil && tt.want == nil) {
			t.Errorf("lstat %s through FUSE: %v, want %v", tt.path, err, tt.want)
			continue
		}
		if err == nil && st.Mode != tt.mode {
			t.Errorf("lstat %s through FUSE: mode %o, want %o", tt.path, st.Mode, tt.mode)
		}
	}
	if unix.Lstat(m+"/f", &st) == nil && (st.Nlink != 2 || st.Uid != 7 || st.Gid != 8) {
		t.Errorf("f through FUSE after link and chown: nlink %d uid %d gid %d", st.Nlink, st.Uid, st.Gid)
	}
}

// noopChownHelper makes fsuid 1001 chown(-1, -1) the files of dir owned by
// 1000, by name (fchownat) and through a descriptor (fchown), and prints
// each result and the mode after it.
func noopChownHelper(dir string) int {
	names := []string{"suid", "sgidx", "plain"}
	modes := []uint32{0o4755, 0o2755, 0o0755}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for i, name := range names {
		for _, how := range []string{"fchownat", "fchown"} {
			p := filepath.Join(dir, name+"-"+how)
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				fmt.Println(err)
				return 1
			}
			unix.Chown(p, 1000, 1000)
			unix.Chmod(p, modes[i])
			fd, err := unix.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			errc := make(chan error)
			go func() {
				runtime.LockOSThread() // the thread ends with the goroutine
				unix.Setfsuid(1001)
				if how == "fchown" {
					errc <- unix.Fchown(fd, -1, -1)
				} else {
					errc <- unix.Fchownat(dfd, name+"-"+how, -1, -1, 0)
				}
			}()
			err = <-errc
			var st unix.Stat_t
			unix.Fstat(fd, &st)
			unix.Close(fd)
			fmt.Printf("%s %s: %v, mode %o\n", how, name, err, st.Mode&0o7777)
		}
	}
	return 0
}

// TestRunNoopChown: chown(-1, -1) by someone who does not own a setuid or
// setgid file is EPERM and leaves it alone, as on tmpfs; it drops nothing
// from a plain file. (Through the FUSE door the kernel cannot tell it from
// a write's privilege drop: fuseserve's TestQuirkNoopChownKillsSUID.)
func TestRunNoopChown(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=noopchown", MountEnv+"="+ref)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if !strings.Contains(string(want), "fchown suid: operation not permitted, mode 4755") {
		t.Fatalf("the reference is not what the test is about:\n%s", want)
	}
	code, got, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=noopchown")
	if code != 0 || got != string(want) {
		t.Errorf("under run: exit %d (%s)\n%s", code, errs, lineDiff(string(want), got))
	}
}
