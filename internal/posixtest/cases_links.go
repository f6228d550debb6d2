package posixtest

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Cases of link, symlink and readlink, and of name limits.
var linkCases = []Case{
	{"link", caseLink},
	{"symlink_readlink", caseSymlinkReadlink},
	{"symlink_loops", caseSymlinkLoops},
	{"name_max", caseNameMax},
	{"odd_names", caseOddNames},
}

func caseLink(s *S) {
	s.WriteFile("f", "shared", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Symlink("f", "l")
	t := s.Age("f")
	s.Want("link f g", s.Link("f", "g"), 0)
	s.TimesSince("f", t)
	s.Stat("f")
	s.Want("link f d/h", s.Link("f", "d/h"), 0)
	s.Stat("g")
	for _, c := range []struct {
		from, to string
		want     unix.Errno
	}{
		{"d", "d2", unix.EPERM},
		{"f", "g", unix.EEXIST},
		{"f", "d", unix.EEXIST},
		{"missing", "m", unix.ENOENT},
		{"f", "missing/m", unix.ENOENT},
		{"f", "f/m", unix.ENOTDIR},
		{"f", "new/", unix.ENOENT},
		{"f/", "new", unix.ENOTDIR},
		{"l", "l2", 0}, // link(2) does not follow: a second name of the symlink
	} {
		s.Want("link "+c.from+" "+c.to, s.Link(c.from, c.to), c.want)
	}
	s.Lstat("l")
	s.Lstat("l2")
	// Writes through one name show through the others.
	fd, e := s.Open("g", unix.O_WRONLY|unix.O_APPEND, 0)
	s.Must("open", e)
	s.Write(fd, []byte("+more"))
	s.Close(fd)
	s.ReadFile("d/h")
	s.Chmod("d/h", 0o600)
	s.Stat("f")
	s.Unlink("f")
	s.Stat("g")
	s.Unlink("g")
	s.Stat("d/h")
	s.ReadFile("d/h")
	s.Readdir("")
}

func caseSymlinkReadlink(s *S) {
	s.WriteFile("f", "x", 0o644)
	for i, target := range []string{"f", "missing", "/abs/path", "../up", "a b\nc", "\xff\xfe", "dir/", strings.Repeat("t", 255), strings.Repeat("x/", 600)} {
		p := fmt.Sprintf("l%d", i)
		s.Symlink(target, p)
		s.Lstat(p)
		s.Readlink(p)
	}
	s.Want("symlink existing", s.Symlink("f", "l0"), unix.EEXIST)
	s.Want("symlink over file", s.Symlink("x", "f"), unix.EEXIST)
	s.Want("symlink empty target", s.Symlink("", "empty"), unix.ENOENT)
	s.Want("symlink in missing dir", s.Symlink("x", "missing/l"), unix.ENOENT)
	s.Want("symlink target 4095", s.Symlink(strings.Repeat("p", 4095), "long"), 0)
	s.Lstat("long")
	s.Readlink("long")
	s.Want("symlink target 4096", s.Symlink(strings.Repeat("p", 4096), "toolong"), unix.ENAMETOOLONG)
	_, e := s.Readlink("f")
	s.Want("readlink regular file", e, unix.EINVAL)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	_, e = s.Readlink("d")
	s.Want("readlink dir", e, unix.EINVAL)
	_, e = s.Readlink("missing")
	s.Want("readlink missing", e, unix.ENOENT)
	// A buffer shorter than the target truncates silently.
	buf := make([]byte, 3)
	n, err := sys.Readlink(s.Path("l1"), buf)
	s.Logf("readlink l1 into 3 bytes = %q %s", buf[:max(n, 0)], ErrnoString(Errno(err)))
	// Following: through a link to a file and to a directory.
	s.ReadFile("l0")
	s.Symlink("d", "ld")
	s.WriteFile("ld/inside", "in", 0o644)
	s.Readdir("d")
	s.Stat("ld/inside")
	s.Chmod("l0", 0o600)
	s.Lstat("l0")
	s.Stat("l0")
}

func caseSymlinkLoops(s *S) {
	s.Symlink("self", "self")
	s.Symlink("b", "a")
	s.Symlink("a", "b")
	for _, p := range []string{"self", "a", "a/x"} {
		_, e := s.Stat(p)
		s.Want("stat "+p, e, unix.ELOOP)
		s.Lstat(p)
	}
	_, e := s.Open("a", unix.O_CREAT|unix.O_WRONLY, 0o644)
	s.Want("create through loop", e, unix.ELOOP)
	// 40 links in a chain resolve; 41 do not.
	s.WriteFile("end", "end", 0o644)
	prev := "end"
	for i := 1; i <= 41; i++ {
		p := fmt.Sprintf("c%02d", i)
		s.Must("symlink", Errno(sys.Symlink(prev, s.Path(p))))
		prev = p
	}
	_, e = s.ReadFile("c40")
	s.Want("chain of 40", e, 0)
	_, e = s.ReadFile("c41")
	s.Want("chain of 41", e, unix.ELOOP)
}

func caseNameMax(s *S) {
	ok, long := strings.Repeat("n", 255), strings.Repeat("n", 256)
	s.WriteFile("f", "", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	for _, c := range []struct {
		name string
		want unix.Errno
	}{{ok, 0}, {long, unix.ENAMETOOLONG}, {strings.Repeat("é", 127) + "x", 0}, {strings.Repeat("é", 128), unix.ENAMETOOLONG}} {
		n := c.name
		fd, e := s.Open(n, unix.O_CREAT|unix.O_WRONLY, 0o644)
		s.Want(fmt.Sprintf("create %d-byte name", len(n)), e, c.want)
		if e == 0 {
			s.Close(fd)
		}
		_, e = s.Stat(n)
		s.Want(fmt.Sprintf("stat %d-byte name", len(n)), e, c.want)
		s.Want("unlink", s.Unlink(n), c.want)
		s.Want("mkdir", s.Mkdir("d/"+n, 0o755), c.want)
		s.Want("rmdir", s.Rmdir("d/"+n), c.want)
		s.Want("symlink", s.Symlink("f", n), c.want)
		s.Want("unlink", s.Unlink(n), c.want)
		s.Want("link", s.Link("f", "d/"+n), c.want)
		s.Want("rename to", s.Rename("f", n, 0), c.want)
		if c.want == 0 {
			s.Want("rename from", s.Rename(n, "f", 0), 0)
		}
		s.Want("rename from", s.Rename("d/"+n, "d/short", 0), c.want)
		s.Want("mknod", s.Mknod(n, unix.S_IFIFO|0o600, 0), c.want)
		// Whatever these answer for a valid name, a long one is refused first.
		s.Rename("d/short", "d/"+n, 0)
		e2 := s.Setxattr(n, "user.x", "v", 0)
		e3 := s.Truncate(n, 0)
		if c.want != 0 {
			s.Want("setxattr", e2, unix.ENAMETOOLONG)
			s.Want("truncate", e3, unix.ENAMETOOLONG)
		}
	}
	s.Readdir("")
	s.Readdir("d")
	// A path past PATH_MAX fails before any name reaches the filesystem.
	deep := strings.Repeat("d/", 2100)
	_, e := s.Stat(deep)
	s.Want("stat 4200-byte path", e, unix.ENAMETOOLONG)
}

func caseOddNames(s *S) {
	for _, n := range []string{" ", "with space", "new\nline", "tab\t", "\xff\xfe\x01", "-", ".hidden", "...", "a:b", "\\", "ünï©ødé", "*?[]", "\x7f"} {
		s.WriteFile(n, n, 0o644)
		s.Stat(n)
		s.ReadFile(n)
		s.Must("mkdir", s.Mkdir(n+".d", 0o755))
	}
	s.Readdir("")
	s.Rename(" ", "\xff", 0)
	s.Readdir("")
}
