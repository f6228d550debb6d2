package posixtest

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Cases of extended attributes in the user and trusted namespaces.
var xattrCases = []Case{
	{"xattr_user", caseXattrUser},
	{"xattr_flags", caseXattrFlags},
	{"xattr_sizes", caseXattrSizes},
	{"xattr_trusted", caseXattrTrusted},
	{"xattr_kinds", caseXattrKinds},
	{"xattr_names", caseXattrNames},
}

func caseXattrUser(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Listxattr("f", 0)
	s.Listxattr("f", 100)
	t := s.Age("f")
	s.Want("set", s.Setxattr("f", "user.one", "value one", 0), 0)
	s.TimesSince("f", t)
	s.Setxattr("f", "user.two", "", 0) // empty value
	s.Setxattr("f", "user.bin", "a\x00b\xff", 0)
	s.Getxattr("f", "user.one", 0)
	s.Getxattr("f", "user.one", 100)
	s.Getxattr("f", "user.two", 100)
	s.Getxattr("f", "user.two", 0)
	s.Getxattr("f", "user.bin", 100)
	_, e := s.Getxattr("f", "user.none", 100)
	s.Want("get missing", e, unix.ENODATA)
	_, e = s.Getxattr("f", "user.none", 0)
	s.Want("probe missing", e, unix.ENODATA)
	s.Listxattr("f", 0)
	s.Listxattr("f", 1000)
	s.Setxattr("f", "user.one", "replaced", 0)
	s.Getxattr("f", "user.one", 100)
	t = s.Age("f")
	s.Want("remove", s.Removexattr("f", "user.one"), 0)
	s.TimesSince("f", t)
	s.Want("remove again", s.Removexattr("f", "user.one"), unix.ENODATA)
	s.Listxattr("f", 1000)
	// Hard links share xattrs; a new file has none.
	s.Link("f", "g")
	s.Getxattr("g", "user.bin", 100)
	s.Rename("g", "h", 0)
	s.Listxattr("h", 1000)
	s.WriteFile("fresh", "", 0o644)
	s.Listxattr("fresh", 1000)
	s.Want("get on missing file", s.Setxattr("missing", "user.a", "v", 0), unix.ENOENT)
}

func caseXattrFlags(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Want("replace missing", s.Setxattr("f", "user.a", "1", unix.XATTR_REPLACE), unix.ENODATA)
	s.Want("create new", s.Setxattr("f", "user.a", "2", unix.XATTR_CREATE), 0)
	s.Want("create existing", s.Setxattr("f", "user.a", "3", unix.XATTR_CREATE), unix.EEXIST)
	s.Want("replace existing", s.Setxattr("f", "user.a", "4", unix.XATTR_REPLACE), 0)
	s.Getxattr("f", "user.a", 10)
	s.Setxattr("f", "user.a", "5", unix.XATTR_CREATE|unix.XATTR_REPLACE)
	s.Setxattr("f", "user.a", "6", 4)
	s.Getxattr("f", "user.a", 10)
	s.Want("create empty value", s.Setxattr("f", "user.e", "", unix.XATTR_CREATE), 0)
	s.Want("create over empty value", s.Setxattr("f", "user.e", "x", unix.XATTR_CREATE), unix.EEXIST)
	s.Want("replace empty value", s.Setxattr("f", "user.e", "y", unix.XATTR_REPLACE), 0)
	s.Listxattr("f", 100)
}

func caseXattrSizes(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Setxattr("f", "user.abc", "0123456789", 0)
	s.Setxattr("f", "user.de", "z", 0)
	for _, n := range []int{0, 1, 9, 10, 11} {
		_, e := s.Getxattr("f", "user.abc", n)
		if n > 0 && n < 10 {
			s.Want("get into a small buffer", e, unix.ERANGE)
		}
	}
	// "user.abc\0user.de\0" is 17 bytes
	for _, n := range []int{0, 1, 16, 17, 18} {
		_, e := s.Listxattr("f", n)
		if n > 0 && n < 17 {
			s.Want("list into a small buffer", e, unix.ERANGE)
		}
	}
	big := strings.Repeat("v", 4000)
	s.Setxattr("f", "user.big", big, 0)
	s.Getxattr("f", "user.big", 0)
	s.Getxattr("f", "user.big", 5000)
	s.Setxattr("f", "user.max", strings.Repeat("m", 65536), 0)
	s.Getxattr("f", "user.max", 0)
	s.Want("value past XATTR_SIZE_MAX", s.Setxattr("f", "user.huge", strings.Repeat("h", 65537), 0), unix.E2BIG)
	s.Listxattr("f", 0)
}

func caseXattrTrusted(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Want("set trusted as root", s.Setxattr("f", "trusted.t", "secret", 0), 0)
	s.Getxattr("f", "trusted.t", 100)
	s.Setxattr("f", "user.u", "public", 0)
	s.Listxattr("f", 100)
	s.Setxattr("f", "trusted.t", "again", unix.XATTR_CREATE)
	s.Removexattr("f", "trusted.t")
	s.Getxattr("f", "trusted.t", 100)
	s.Listxattr("f", 100)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Setxattr("d", "trusted.overlay.opaque", "y", 0)
	s.Getxattr("d", "trusted.overlay.opaque", 10)
}

func caseXattrKinds(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Symlink("f", "l")
	s.Mknod("fifo", unix.S_IFIFO|0o644, 0)
	s.Setxattr("d", "user.dir", "on a dir", 0)
	s.Getxattr("d", "user.dir", 100)
	// Through a symlink: the target's; on the link itself: refused.
	s.Setxattr("l", "user.via", "through link", 0)
	s.Getxattr("f", "user.via", 100)
	s.Lsetxattr("l", "user.on", "link itself", 0)
	s.Lgetxattr("l", "user.via", 100)
	s.Llistxattr("l", 100)
	s.Lsetxattr("l", "trusted.on", "link itself", 0)
	s.Lgetxattr("l", "trusted.on", 100)
	s.Llistxattr("l", 100)
	s.Lremovexattr("l", "trusted.on")
	s.Setxattr("fifo", "user.x", "fifo", 0)
	s.Setxattr("fifo", "trusted.x", "fifo", 0)
	s.Listxattr("fifo", 100)
	// Unlinked but open: still reachable by descriptor.
	fd, e := s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Unlink("f")
	s.Unlink("l")
	err := sys.Fsetxattr(fd, "user.late", []byte("late"), 0)
	s.Logf("fsetxattr on unlinked = %s", ErrnoString(Errno(err)))
	buf := make([]byte, 100)
	m, err := sys.Fgetxattr(fd, "user.via", buf)
	s.Logf("fgetxattr on unlinked = %q %s", buf[:max(m, 0)], ErrnoString(Errno(err)))
	s.Close(fd)
}

func caseXattrNames(s *S) {
	s.WriteFile("f", "x", 0o644)
	for _, name := range []string{
		"user.", "user", "", "foo.bar", "USER.x", "user.a.b.c", "user.\xff", "user. ",
		"user." + strings.Repeat("n", 250), "user." + strings.Repeat("n", 251),
		"trusted.", "system.unknown",
	} {
		s.Setxattr("f", name, "v", 0)
		s.Getxattr("f", name, 10)
		s.Removexattr("f", name)
	}
	s.Listxattr("f", 1000)
}
