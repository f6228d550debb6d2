package fsimpl

import (
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's limit on symlinks followed in one walk
// (include/linux/namei.h:MAXSYMLINKS).
const maxSymlinks = 40

// StepAside is returned by the *At operations when only the kernel can give
// the answer: the walk left this filesystem ("..", an absolute symlink
// pointing elsewhere), or the answer depends on the mount structure (the
// root or a dot as the last component of a call that creates or removes a
// name). Nothing was changed; the door must let the kernel run the call
// (through the FUSE mount). It is never a reply to a program.
const StepAside unix.Errno = 1 << 16

// Door says which way into the filesystem an operation came. The FUSE door
// keeps kernel lookup references on the inodes it hands out; the change
// feed tells every door but the one a change came through.
type Door uint8

const (
	// DoorNone is a caller that is no door (tests, tools).
	DoorNone Door = iota
	// DoorFUSE is the kernel, through the FUSE mount. Entries it is given
	// carry a lookup reference, given back with Forget.
	DoorFUSE
	// DoorRun is the seccomp supervisor of `btfuse run`.
	DoorRun
)

// Flags for At.Flags.
const (
	// AtFollow follows a symlink in the last component.
	AtFollow = 1 << iota
	// atParent stops at the last component: it is never followed, even
	// with a trailing slash, and may be missing (the parent walk of the
	// calls that create or remove a name, fs/namei.c:filename_parentat()).
	atParent
)

// At is what a path operation works on: Path walked from directory Dir
// with Cred, as fs/namei.c:path_lookupat() and link_path_walk() walk it.
type At struct {
	Cred *Cred
	// Dir is the directory Path starts from.
	Dir Ino
	// Path is the rest of the path after Dir, relative to it; slashes at
	// its start are ignored and an empty Path names Dir itself.
	Path string
	// Flags are AtFollow.
	Flags int
	// Mount is the absolute path at which the caller sees the root of
	// this filesystem. An absolute symlink target under it is walked from
	// the root; any other absolute target makes the call StepAside.
	Mount string
	// Umask is the caller's umask, applied to the mode of what it creates.
	Umask uint32
}

// Within reports whether absolute path p lies under mount lexically and
// returns the part after it. A path that reaches mount through "." or
// "..", repeated slashes or a symlink is not recognised: mount is
// canonical, so such a path must be walked by the kernel.
func Within(mount, p string) (string, bool) {
	for strings.HasPrefix(p, "//") {
		p = p[1:]
	}
	if !strings.HasPrefix(p, mount) {
		return "", false
	}
	rest := p[len(mount):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// walked is where a walk ended.
type walked struct {
	// dir is the directory holding the last component; name is that
	// component, "" when the path ended on a directory reached by ".",
	// ".." or no component at all (then n is dir itself).
	dir  *inode
	name string
	// n is the last component, nil when it does not exist.
	n *inode
	// dot is the last component when it was "." or ".." (then name is
	// empty and n the directory it led to).
	dot string
	// slashed: the path ended in a slash, so the last component must be
	// a directory.
	slashed bool
	// err is the walk's error: ENOENT with dir and name set when only
	// the last component is missing.
	err unix.Errno
	// lastLookup: err came from looking up the last component after the
	// walk to its parent succeeded (fs/namei.c:filename_parentat(), then
	// lookup_one_qstr_excl()): callers that walk two paths order it.
	lastLookup bool
}

// walker walks paths for one operation.
type walker struct {
	fs *FS
	c  *Cred
	// exclusive: fs.mu is held for writing, so a followed symlink's atime
	// is updated at once; otherwise the links are noted in followed and
	// touched after the lock is released.
	exclusive bool
	followed  []Ino
	links     int
}

// walk resolves at.Path from at.Dir with flags (at.Flags plus atParent).
//
// Preconditions: fs.mu is held (for writing when w.exclusive).
func (w *walker) walk(at *At, flags int) walked {
	start, e := w.fs.getLocked(at.Dir)
	if e != 0 {
		return walked{err: e}
	}
	if !start.isDir() || start.dir == nil {
		return walked{err: unix.ENOTDIR}
	}
	return w.walkFrom(start, at.Path, at.Mount, flags)
}

// walkFrom walks rest from directory cur.
//
// Preconditions: as walk.
func (w *walker) walkFrom(cur *inode, rest, mount string, flags int) walked {
	slashed := strings.HasSuffix(rest, "/") || rest == ""
	comps := splitPath(rest)
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		last := len(comps) == 0
		if isDot(name) {
			// may_lookup() on the directory applies to a last dot too:
			// link_path_walk() checks it before it looks at the name.
			if e := permissionLocked(w.c, cur, mayExec); e != 0 {
				return walked{err: e}
			}
			if name == ".." {
				if cur.ino == RootIno {
					// Above the root of the filesystem: the
					// kernel walks on from the mount point.
					return walked{err: StepAside}
				}
				if cur = w.fs.childLocked(cur, ".."); cur == nil {
					return walked{err: unix.ENOENT}
				}
			}
			if last {
				return walked{dir: cur, n: cur, slashed: slashed, dot: name}
			}
			continue
		}
		n, e := w.fs.lookupLocked(w.c, cur.ino, name)
		if e != 0 {
			if !last {
				return walked{err: e}
			}
			if e == unix.ENOENT {
				return walked{dir: cur, name: name, slashed: slashed, err: e}
			}
			// EACCES and ENOTDIR belong to the parent: link_path_walk()
			// runs may_lookup() on the directory holding the last
			// component too, inside filename_parentat().
			return walked{err: e, lastLookup: e != unix.EACCES && e != unix.ENOTDIR}
		}
		follow := !last || flags&AtFollow != 0 || (slashed && flags&atParent == 0)
		if n.isLink() && follow {
			w.links++
			if w.links > maxSymlinks {
				return walked{err: unix.ELOOP}
			}
			if e := w.mayFollowLocked(cur, n); e != 0 {
				return walked{err: e}
			}
			w.followedLocked(n)
			target := n.target
			if strings.HasPrefix(target, "/") {
				in, ok := Within(mount, target)
				if mount == "" || !ok {
					return walked{err: StepAside}
				}
				root, _ := w.fs.getLocked(RootIno)
				cur = root
				target = in
			}
			// Splice the target's components in place of the link's.
			if strings.HasSuffix(target, "/") && last {
				slashed = true
			}
			comps = append(splitPath(target), comps...)
			if len(comps) == 0 {
				return walked{dir: cur, n: cur, slashed: slashed}
			}
			continue
		}
		if last {
			if slashed && !n.isDir() && flags&atParent == 0 {
				return walked{dir: cur, name: name, slashed: true, err: unix.ENOTDIR, lastLookup: true}
			}
			return walked{dir: cur, name: name, n: n, slashed: slashed}
		}
		if !n.isDir() {
			return walked{err: unix.ENOTDIR}
		}
		cur = n
	}
	// No component at all: the path named the starting directory.
	return walked{dir: cur, n: cur, slashed: slashed}
}

// mayFollowLocked mirrors fs/namei.c:may_follow_link() (fs.protected_symlinks):
// a symlink in a sticky world-writable directory is followed only by its
// owner, or when it belongs to the directory's owner.
//
// Preconditions: as walk.
func (w *walker) mayFollowLocked(dir, link *inode) unix.Errno {
	if link.uid == w.c.UID || dir.mode&(unix.S_ISVTX|0o002) != unix.S_ISVTX|0o002 || dir.uid == link.uid {
		return 0
	}
	if w.fs.sysctl("protected_symlinks", 0) == 0 {
		return 0
	}
	return unix.EACCES
}

// followedLocked updates the atime of a symlink the walk follows, as
// fs/namei.c:pick_link() does through touch_atime().
//
// Preconditions: as walk.
func (w *walker) followedLocked(n *inode) {
	if w.exclusive {
		w.fs.touchAtimeLocked(n)
		return
	}
	w.followed = append(w.followed, n.ino)
}

// done touches what a shared walk followed. Call it with fs.mu released.
func (w *walker) done() {
	for _, ino := range w.followed {
		w.fs.touchAtime(ino)
	}
}

// splitPath splits p into its non-empty components.
func splitPath(p string) []string {
	out := make([]string, 0, strings.Count(p, "/")+1)
	for p != "" {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			out = append(out, p)
			break
		}
		if i > 0 {
			out = append(out, p[:i])
		}
		p = p[i+1:]
	}
	return out
}
