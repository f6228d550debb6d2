package supervisor

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// maxSymlinks is the kernel's limit on symlinks followed in one walk
// (include/linux/namei.h:MAXSYMLINKS).
const maxSymlinks = 40

// Walk flags.
const (
	walkFollow  = 1 << iota // follow a symlink in the last component
	walkEmptyOK             // an empty path names the starting directory (AT_EMPTY_PATH)
	// walkLast never follows a symlink in the last component, even with a
	// trailing slash, and leaves the slash to the caller: the parent walk
	// of the calls that create or remove a name (fs/namei.c:filename_parentat()).
	walkLast
	// walkData asks for the last component's full attributes, with what
	// a regular file's backing file keeps (size, blocks, atime, mtime):
	// one stat of the backing file, which only the stat calls need.
	walkData
)

// walkResult is where a path leads inside the mount.
type walkResult struct {
	// outside is set when the path leaves the mount or cannot be judged
	// here (host symlinks, "..", deleted directories): the kernel must
	// walk it itself (CONTINUE), which lands on the FUSE door if it enters
	// the mount after all.
	outside bool
	parent  fsimpl.Ino // directory holding the last component
	name    string     // last component; "" when the path named the root or a dot
	// attr is the last component's attributes when found (ok); err is
	// ENOENT when only the last component is missing, or the walk error.
	attr    fsimpl.Attr
	found   bool
	slashed bool // the path ended in a slash: the last component must be a directory
	err     unix.Errno
	// lastLookup is set when err came from looking up the last component
	// after the walk to its parent succeeded (fs/namei.c:filename_parentat()
	// then lookup_one_qstr_excl()).
	lastLookup bool
}

// resolve walks path relative to dirfd in thread tid, mirroring
// fs/namei.c:path_lookupat() and link_path_walk() over fsimpl: every
// component is looked up with the caller's credentials (search permission
// on each directory), symlinks inside the mount are followed up to
// maxSymlinks, ".." at the mount root leaves the mount.
//
// The host part of the path (before the mount) is judged lexically from a
// canonical start (/proc/TID/cwd or /proc/TID/fd/N), so any ".." or
// symlink there makes the result outside: the kernel then walks it.
func (s *Supervisor) resolve(tid int, cred *fsimpl.Cred, dirfd int32, path string, flags int) walkResult {
	if path == "" && flags&walkEmptyOK == 0 {
		return walkResult{err: unix.ENOENT}
	}
	full, ok := absPath(tid, dirfd, path)
	if !ok {
		return walkResult{outside: true}
	}
	return s.walkAbs(cred, full, flags, 0)
}

// absPath makes path absolute from dirfd as thread tid sees it. It fails
// when the start is not a live directory path (a pipe, a deleted
// directory, a served file): the kernel must then judge.
func absPath(tid int, dirfd int32, path string) (string, bool) {
	if strings.HasPrefix(path, "/") {
		return path, true
	}
	var start string
	var ok bool
	if dirfd == unix.AT_FDCWD {
		start, ok = readlink(procPath(tid, "cwd"))
	} else {
		start, ok = readlink(procPath(tid, "fd/"+itoa(int(dirfd))))
	}
	if !ok || !strings.HasPrefix(start, "/") || strings.HasSuffix(start, " (deleted)") {
		return "", false
	}
	return start + "/" + path, true
}

// walkAbs walks the absolute path p; links counts symlinks followed so far.
func (s *Supervisor) walkAbs(cred *fsimpl.Cred, p string, flags int, links int) walkResult {
	rest, ok := s.underMount(p)
	if !ok {
		return walkResult{outside: true}
	}
	return s.walkIn(cred, fsimpl.RootIno, rest, flags, links)
}

// underMount reports whether absolute path p enters the mount lexically
// through the canonical mount path, and returns what follows it. A "." or
// ".." or empty component in the host part stops it from deciding.
func (s *Supervisor) underMount(p string) (string, bool) {
	for strings.HasPrefix(p, "//") {
		p = p[1:]
	}
	m := s.mount
	if !strings.HasPrefix(p, m) {
		return "", false
	}
	rest := p[len(m):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	// Repeated slashes inside the host part would not match the prefix;
	// the prefix itself is canonical, so nothing else can hide there.
	return rest, true
}

// walkIn walks rest (a path relative to directory dir inside the mount).
func (s *Supervisor) walkIn(cred *fsimpl.Cred, dir fsimpl.Ino, rest string, flags int, links int) walkResult {
	// Stack of directories from the mount root, for "..".
	stack := []fsimpl.Ino{fsimpl.RootIno}
	if dir != fsimpl.RootIno {
		// Callers only start at the root; a non-root start cannot go
		// above itself with "..".
		stack = []fsimpl.Ino{dir}
	}
	slashed := strings.HasSuffix(rest, "/")
	comps := splitPath(rest)
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		cur := stack[len(stack)-1]
		last := len(comps) == 0
		switch name {
		case ".":
			// may_lookup() on the directory still applies, to a last
			// "." too: link_path_walk() checks it before it looks at
			// what the component is.
			if e := s.fs.Access(cred, cur, unix.X_OK); e != 0 {
				return walkResult{err: e}
			}
			if last {
				return s.finishDot(cred, cur, slashed)
			}
			continue
		case "..":
			if len(stack) == 1 {
				if cur == fsimpl.RootIno {
					return walkResult{outside: true}
				}
				return walkResult{outside: true}
			}
			if e := s.fs.Access(cred, cur, unix.X_OK); e != 0 {
				return walkResult{err: e}
			}
			stack = stack[:len(stack)-1]
			if last {
				return s.finishDot(cred, stack[len(stack)-1], slashed)
			}
			continue
		}
		a, e := s.fs.Peek(cred, cur, name, !last || flags&walkData == 0)
		if e != 0 {
			if e == unix.ENOENT && last {
				return walkResult{parent: cur, name: name, slashed: slashed, err: unix.ENOENT}
			}
			if last && e != unix.EACCES && e != unix.ENOTDIR {
				// The parent walk succeeded; only the lookup of the last
				// component failed (ENAMETOOLONG, say): callers that look
				// up more than one name order this error themselves.
				// EACCES and ENOTDIR are the parent's: link_path_walk()
				// runs may_lookup() on the directory holding the last
				// component too, inside filename_parentat().
				return walkResult{err: e, lastLookup: true}
			}
			return walkResult{err: e}
		}
		typ := a.Mode & unix.S_IFMT
		if typ == unix.S_IFLNK && (!last || flags&walkFollow != 0 || (slashed && flags&walkLast == 0)) {
			links++
			if links > maxSymlinks {
				return walkResult{err: unix.ELOOP}
			}
			target, e := s.fs.Readlink(cred, a.Ino)
			if e != 0 {
				return walkResult{err: e}
			}
			tail := strings.Join(comps, "/")
			if slashed {
				tail += "/"
			}
			if strings.HasPrefix(target, "/") {
				np := target
				if tail != "" {
					np = strings.TrimSuffix(target, "/") + "/" + tail
				} else if slashed && !strings.HasSuffix(np, "/") {
					np += "/"
				}
				return s.walkAbs(cred, np, flags, links)
			}
			// Relative target: splice its components in place.
			nc := splitPath(target)
			if strings.HasSuffix(target, "/") && len(comps) == 0 {
				slashed = true
			}
			comps = append(nc, comps...)
			if len(comps) == 0 {
				return s.finishDot(cred, cur, slashed)
			}
			continue
		}
		if last {
			if slashed && typ != unix.S_IFDIR && flags&walkLast == 0 {
				return walkResult{parent: cur, name: name, slashed: true, err: unix.ENOTDIR, lastLookup: true}
			}
			return walkResult{parent: cur, name: name, attr: a, found: true, slashed: slashed}
		}
		if typ != unix.S_IFDIR {
			return walkResult{err: unix.ENOTDIR}
		}
		stack = append(stack, a.Ino)
	}
	// The path named the starting directory itself (the mount root, or a
	// path ending in "/" after it).
	return s.finishDot(cred, stack[len(stack)-1], true)
}

// finishDot answers a walk that ends on directory ino reached through "."
// or "..": there is no name to create or remove there.
func (s *Supervisor) finishDot(cred *fsimpl.Cred, ino fsimpl.Ino, slashed bool) walkResult {
	a, e := s.fs.GetAttr(ino)
	if e != 0 {
		return walkResult{err: e}
	}
	return walkResult{parent: ino, attr: a, found: true, slashed: slashed}
}

// splitPath splits p into its non-empty components.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
