package posixtest

import (
	"bytes"
	"sort"

	"golang.org/x/sys/unix"
)

func xattrFlagName(flags int) string {
	switch flags {
	case 0:
		return "0"
	case unix.XATTR_CREATE:
		return "XATTR_CREATE"
	case unix.XATTR_REPLACE:
		return "XATTR_REPLACE"
	}
	return "XATTR_CREATE|XATTR_REPLACE"
}

// Setxattr follows symlinks; Lsetxattr does not.
func (s *S) Setxattr(p, name, value string, flags int) unix.Errno {
	err := sys.Setxattr(s.Path(p), name, []byte(value), flags)
	return s.rec(Errno(err), "setxattr %q %q %q %s", p, name, value, xattrFlagName(flags))
}

func (s *S) Lsetxattr(p, name, value string, flags int) unix.Errno {
	err := sys.Lsetxattr(s.Path(p), name, []byte(value), flags)
	return s.rec(Errno(err), "lsetxattr %q %q %q %s", p, name, value, xattrFlagName(flags))
}

// Getxattr reads name with a buffer of size bytes (0 probes the size).
func (s *S) Getxattr(p, name string, size int) (string, unix.Errno) {
	buf := make([]byte, size)
	n, err := sys.Getxattr(s.Path(p), name, buf)
	return s.recXattr("getxattr", p, name, size, buf, n, err)
}

func (s *S) Lgetxattr(p, name string, size int) (string, unix.Errno) {
	buf := make([]byte, size)
	n, err := sys.Lgetxattr(s.Path(p), name, buf)
	return s.recXattr("lgetxattr", p, name, size, buf, n, err)
}

func (s *S) recXattr(op, p, name string, size int, buf []byte, n int, err error) (string, unix.Errno) {
	e := Errno(err)
	switch {
	case e != 0:
		s.Logf("%s %q %q size=%d = %s", op, p, name, size, ErrnoString(e))
		return "", e
	case size == 0:
		s.Logf("%s %q %q size=0 = %d", op, p, name, n)
		return "", 0
	}
	s.Logf("%s %q %q size=%d = %q", op, p, name, size, buf[:n])
	return string(buf[:n]), 0
}

// Listxattr lists the names with a buffer of size bytes (0 probes the
// size); the names are recorded sorted, since their order is unspecified.
func (s *S) Listxattr(p string, size int) ([]string, unix.Errno) {
	buf := make([]byte, size)
	n, err := sys.Listxattr(s.Path(p), buf)
	return s.recList("listxattr", p, size, buf, n, err)
}

func (s *S) Llistxattr(p string, size int) ([]string, unix.Errno) {
	buf := make([]byte, size)
	n, err := sys.Llistxattr(s.Path(p), buf)
	return s.recList("llistxattr", p, size, buf, n, err)
}

func (s *S) recList(op, p string, size int, buf []byte, n int, err error) ([]string, unix.Errno) {
	e := Errno(err)
	switch {
	case e != 0:
		s.Logf("%s %q size=%d = %s", op, p, size, ErrnoString(e))
		return nil, e
	case size == 0:
		s.Logf("%s %q size=0 = %d", op, p, n)
		return nil, 0
	}
	names := splitXattrList(buf[:n])
	s.Logf("%s %q size=%d = %q", op, p, size, names)
	return names, 0
}

func splitXattrList(b []byte) []string {
	var names []string
	for _, n := range bytes.Split(b, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	sort.Strings(names)
	return names
}

func (s *S) Removexattr(p, name string) unix.Errno {
	return s.rec(Errno(sys.Removexattr(s.Path(p), name)), "removexattr %q %q", p, name)
}

func (s *S) Lremovexattr(p, name string) unix.Errno {
	return s.rec(Errno(sys.Lremovexattr(s.Path(p), name)), "lremovexattr %q %q", p, name)
}
