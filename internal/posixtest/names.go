package posixtest

import (
	"fmt"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// Confined reports whether a path taken relative to a directory stays
// below it, as far as the path itself says: ".." never climbs above the
// start. A leading "/" is harmless here because S.Path joins with a "/".
// Symlinks are not considered; Probe creates none that a later step follows.
func Confined(p string) bool {
	depth := 0
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return false
			}
		default:
			depth++
		}
	}
	return true
}

// Probe applies arbitrary names and paths p1 and p2 (the fuzzer's bytes)
// to the directory dir through the calls that take names: creation,
// lookup, xattr names, rename, link, removal, and a symlink whose target is
// p1. The kernel walks the paths, so what reaches the filesystem is single
// components of any bytes and length. Both p1 and p2 must be Confined.
func Probe(dir, p1, p2 string) (tr Transcript) {
	s := &S{Dir: dir, fds: map[int]bool{}}
	defer func() {
		for fd := range s.fds {
			sys.Close(fd)
		}
		if p := recover(); p != nil {
			if _, ok := p.(fatal); !ok {
				s.tr.Failures = append(s.tr.Failures, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
			}
		}
		tr = s.tr
	}()
	s.Mkdir(p1, 0o755)
	if fd, e := s.Open(p2, unix.O_CREAT|unix.O_WRONLY, 0o644); e == 0 {
		s.Close(fd)
	}
	s.Lstat(p1)
	s.Lstat(p2)
	// p2 as an xattr name, except in the namespaces btfuse deliberately
	// leaves out (security.*, system.*: EOPNOTSUPP, see fsimpl's contract).
	if !strings.HasPrefix(p2, "security.") && !strings.HasPrefix(p2, "system.") {
		s.Setxattr(p1, p2, "v", 0)
		s.Getxattr(p1, p2, 10)
		s.Listxattr(p1, 1000)
		s.Removexattr(p1, p2)
	}
	s.Setxattr(p1, "trusted."+p2, "t", 0)
	s.Getxattr(p1, "trusted."+p2, 10)
	s.Removexattr(p1, "trusted."+p2)
	s.Setxattr(p1, "user."+p2, "v", 0)
	s.Getxattr(p1, "user."+p2, 10)
	s.Rename(p2, p1, 0)
	s.Link(p1, p2)
	s.Rename(p1, p2, unix.RENAME_EXCHANGE)
	s.Readdir("")
	s.Unlink(p1)
	s.Rmdir(p1)
	s.Unlink(p2)
	s.Rmdir(p2)
	s.Mknod(p2, unix.S_IFIFO|0o600, 0)
	s.Unlink(p2)
	// Last, and removed at once: a later step must not follow it.
	if s.Symlink(p1, p2) == 0 {
		s.Readlink(p2)
		s.Unlink(p2)
	}
	snapshotLines(s, "")
	return tr
}
