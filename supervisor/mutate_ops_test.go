package supervisor

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/posixtest"
)

// opsHelper runs opsCase in a directory of dir, its working directory, and
// prints the transcript as JSON. The same transcript must come out of a
// tmpfs directory run natively and of the mount run supervised.
func opsHelper(dir string) int {
	unix.Umask(0o022)
	if err := unix.Chdir(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	// Paths relative to the working directory: the case's directory is
	// "ops", and every path the calls get is "ops/...".
	tr := posixtest.RunCase(posixtest.Case{Name: "ops", Run: opsCase}, ".")
	if err := json.NewEncoder(os.Stdout).Encode(tr); err != nil {
		return 1
	}
	return 0
}

// opsCase runs the mutating path syscalls, root first and then as nobody,
// and records each result: through posixtest's recording calls where they
// have one, by hand (raw) for the *at forms with a directory descriptor or
// flags, and for paths outside the case's directory.
func opsCase(s *posixtest.S) {
	raw := func(what string, err error) { s.Logf("%s = %s", what, posixtest.ErrnoString(posixtest.Errno(err))) }
	p := s.Path
	create := func(name, data string) {
		if fd, e := s.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644); e == 0 {
			if data != "" {
				s.Write(fd, []byte(data))
			}
			s.Close(fd)
		}
	}
	create("f", "hello")

	s.Mkdir("d", 0o755)
	s.Mkdir("d", 0o755)
	s.Mkdir("d/", 0o755)
	s.Mkdir("s/", 0o700)
	s.Mkdir("nodir/x", 0o755)
	s.Mkdir("f/x", 0o755)
	s.Mkdir("sticky", 0o1777)
	s.Lstat("sticky")
	s.Lstat("s")
	if dfd, err := unix.Open(p("d"), unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		raw("mkdirat(dfd, sub)", unix.Mkdirat(dfd, "sub", 0o700))
		raw("symlinkat(dfd, sl)", unix.Symlinkat("../f", dfd, "sl"))
		raw("unlinkat(dfd, sl)", unix.Unlinkat(dfd, "sl", 0))
		unix.Close(dfd)
	} else {
		raw("open d", err)
	}
	s.Lstat("d/sub")
	s.Mknod("fifo", unix.S_IFIFO|0o666, 0)
	s.Mknod("fifo", unix.S_IFIFO|0o666, 0)
	s.Mknod("reg", 0o640, 0)
	s.Lstat("fifo")
	s.Lstat("reg")

	s.Symlink("f", "l")
	s.Symlink("x", "l")
	s.Symlink("", "l2")
	s.Symlink("f", "new/")
	s.Symlink("nowhere", "dl")
	s.Mkdir("dl/", 0o755)
	s.Lstat("l")

	s.Link("f", "h")
	s.Link("f", "h")
	s.Link("d", "dh")
	s.Link("nope", "x")
	s.Link("f", "new/")
	raw("linkat l lf FOLLOW", unix.Linkat(unix.AT_FDCWD, p("l"), unix.AT_FDCWD, p("lf"), unix.AT_SYMLINK_FOLLOW))
	raw("linkat l ll", unix.Linkat(unix.AT_FDCWD, p("l"), unix.AT_FDCWD, p("ll"), 0))
	s.Lstat("f")
	s.Lstat("ll")

	s.Rename("f", "g", 0)
	s.Rename("g", "f", 0)
	s.Rename("nope", "x", 0)
	s.Rename("d", "f", 0)       // dir over file
	s.Rename("f", "d", 0)       // file over dir
	s.Rename("d", "d/sub/x", 0) // into itself
	s.Mkdir("e", 0o755)
	create("e/x", "")
	s.Rename("s", "e", 0) // non-empty target
	s.Rename("f/", "z", 0)
	s.Rename("f", "z/", 0)
	s.Rename("f", "h", unix.RENAME_NOREPLACE)
	s.Rename("f", "d", unix.RENAME_EXCHANGE)
	s.Lstat("f")
	s.Lstat("d")
	s.Rename("f", "d", unix.RENAME_EXCHANGE) // back
	s.Rename("f", "nope", unix.RENAME_EXCHANGE)
	raw("renameat2 bad flags", unix.Renameat2(unix.AT_FDCWD, p("f"), unix.AT_FDCWD, p("h"), 0x100))
	s.Rename("h", "f", 0) // same inode
	s.Rename("s", "s2", 0)
	xdev := fmt.Sprintf("/dev/shm/btfuse-xdev-%d", os.Getpid())
	raw("rename f /dev/shm (EXDEV)", unix.Rename(p("f"), xdev))
	raw("link f /dev/shm (EXDEV)", unix.Link(p("f"), xdev))

	s.Unlink("d")
	s.Unlink("nope")
	s.Unlink("f/")
	s.Unlink("d/")
	s.Rmdir("f")
	s.Rmdir("e")
	s.Rmdir("l")
	s.Rmdir("s2/")
	raw("unlinkat d/sub REMOVEDIR", unix.Unlinkat(unix.AT_FDCWD, p("d/sub"), unix.AT_REMOVEDIR))
	raw("unlinkat bad flag", unix.Unlinkat(unix.AT_FDCWD, p("f"), 0x1))
	s.Unlink("ll")
	s.Unlink("lf")
	s.Lstat("f")

	opsAttrs(s, raw)
	opsXattrsAndDots(s, raw)
	opsAsNobody(s, create)
}

// opsAttrs: chmod, chown, truncate, utimensat, symlink loops and statfs.
func opsAttrs(s *posixtest.S, raw func(string, error)) {
	p := s.Path
	s.Chmod("f", 0o600)
	raw("fchmodat f 4751", unix.Fchmodat(unix.AT_FDCWD, p("f"), 0o4751, 0))
	s.Lstat("f")
	s.Chmod("l", 0o640) // follows
	s.Lstat("f")
	s.Chown("f", 1, 2)
	s.Lchown("l", 3, 4)
	raw("fchownat f -1 5", unix.Fchownat(unix.AT_FDCWD, p("f"), -1, 5, 0))
	raw("fchownat l 6 -1 NOFOLLOW", unix.Fchownat(unix.AT_FDCWD, p("l"), 6, -1, unix.AT_SYMLINK_NOFOLLOW))
	raw("fchownat bad flag", unix.Fchownat(unix.AT_FDCWD, p("f"), 1, 1, 0x1))
	s.Lstat("f")
	s.Lstat("l")
	s.Chown("f", 0, 0)
	s.Truncate("f", 2)
	s.Truncate("f", 100)
	s.Truncate("d", 0)
	s.Truncate("f", -1)
	s.Truncate("fifo", 0)
	s.Lstat("f")
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	s.Utimens("f", []unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}, 0)
	s.TimesNow("f")
	s.Utimens("f", []unix.Timespec{omit, omit}, 0)
	s.Utimens("nope", []unix.Timespec{omit, omit}, 0)
	s.Utimens("l", []unix.Timespec{{Sec: 3000}, {Sec: 4000}}, unix.AT_SYMLINK_NOFOLLOW)
	s.Utimens("f", []unix.Timespec{{Sec: 1, Nsec: 2e9}, {Sec: 1}}, 0) // bad nsec
	s.TimesNow("l")
	s.TimesNow("f")

	s.Symlink("loop2", "loop1")
	s.Symlink("loop1", "loop2")
	s.Chmod("loop1", 0o600)
	s.Truncate("loop1", 0)
	s.Mkdir("loop1/x", 0o755)
	s.Unlink("loop1") // the link
	var sf unix.Statfs_t
	raw("statfs .", unix.Statfs(p(""), &sf))
	raw("statfs nope", unix.Statfs(p("nope"), &sf))
	s.Logf("statfs namelen = %d", sf.Namelen)
}

// opsXattrsAndDots: extended attributes by path, and a last "." or "..".
func opsXattrsAndDots(s *posixtest.S, raw func(string, error)) {
	s.Setxattr("f", "user.a", "1", 0)
	s.Setxattr("f", "user.a", "2", unix.XATTR_CREATE)
	s.Setxattr("f", "user.b", "2", unix.XATTR_REPLACE)
	s.Setxattr("f", "trusted.t", "t", 0)
	s.Setxattr("f", "bogus.x", "", 0)
	s.Setxattr("f", "", "", 0)
	s.Setxattr("nope", "user.a", "", 0)
	s.Lsetxattr("l", "user.a", "", 0) // a symlink
	s.Getxattr("f", "user.a", 64)
	s.Getxattr("f", "user.a", 0)
	s.Getxattr("f", "user.zz", 64)
	s.Listxattr("f", 64)
	s.Listxattr("f", 1)
	s.Removexattr("f", "user.a")
	s.Removexattr("f", "user.a")
	s.Mkdir("dd", 0o755)
	s.Mkdir("dd/.", 0o755)
	s.Mkdir("dd/..", 0o755)
	s.Symlink("x", "dd/.")
	s.Link("f", "dd/..")
	s.Unlink("dd/.")
	s.Rmdir("dd/.")
	s.Rmdir("dd/..")
	s.Rename("dd/.", "dd2", 0)
	s.Rename("f", "dd/..", 0)
	s.Rename("f", "dd/..", unix.RENAME_NOREPLACE)
	s.Rmdir("dd")
}

// opsAsNobody: the directory is root's and 0755, f is root's 0644; nobody
// keeps the supplementary groups of the helper.
func opsAsNobody(s *posixtest.S, create func(name, data string)) {
	s.Chmod("f", 0o644)
	s.Mkdir("pub", 0o777)
	s.Chmod("pub", 0o777)
	create("pub/rootfile", "")
	s.Mkdir("tdir", 0o777)
	s.Chmod("tdir", 0o1777)
	create("tdir/rootfile", "")
	groups, err := unix.Getgroups()
	s.Must("getgroups", posixtest.Errno(err))
	nobody := posixtest.Cred{UID: 65534, GID: 65534}
	for _, g := range groups {
		nobody.Groups = append(nobody.Groups, uint32(g))
	}
	s.As(nobody, func() {
		ts := []unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
		s.Mkdir("x", 0o755)
		s.Unlink("f")
		s.Rename("f", "y", 0)
		s.Symlink("f", "y")
		s.Link("f", "pub/y")
		s.Chmod("f", 0o777)
		s.Chown("f", 65534, 65534)
		s.Truncate("f", 0)
		s.Utimens("f", nil, 0)
		s.Utimens("f", ts, 0)
		s.Mkdir("pub/mine", 0o777)
		s.Lstat("pub/mine")
		s.Chmod("pub/mine", 0o2700)
		s.Chown("pub/mine", -1, 0)
		s.Rename("pub/mine", "pub/m2", 0)
		s.Unlink("pub/rootfile")
		s.Unlink("tdir/rootfile") // sticky
		s.Rename("tdir/rootfile", "tdir/z", 0)
		s.Rmdir("pub/m2")
		var sf unix.Statfs_t
		s.Logf("statfs . = %s", posixtest.ErrnoString(posixtest.Errno(unix.Statfs(s.Path(""), &sf))))
		s.Setxattr("f", "user.n", "", 0)
		s.Getxattr("f", "trusted.t", 64)
		s.Listxattr("f", 64)
	})
}
