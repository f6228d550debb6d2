package supervisor

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// A path that enters the mount from outside (an absolute path, or one
// relative to a directory outside the mount) is walked by the kernel
// through the directories above the mount point first, and the kernel
// checks search permission on each (fs/namei.c:may_lookup()): a caller
// who may not search one of them gets EACCES before the mount is
// reached. A path relative to a directory inside the mount never passes
// them, so it is served whatever they say (the caller may hold its
// working directory there from a time it had the right).
//
// The view records those directories when it is made; the inotify watch
// on them (IN_ATTRIB, see mountWatch.watchAbove) makes it again when a
// mode, owner or ACL changes. In the common case every one of them is
// searchable by "other" and carries no ACL, and the check is one bool.

// ancestor is a directory above the mount point, as the view saw it.
type ancestor struct {
	path     string
	mode     uint32
	uid, gid uint32
	// known: its attributes were read and it carries no access ACL, so
	// its mode decides (otherwise only the kernel can answer).
	known bool
}

// aboveMount reads the directories from / down to the mount point's
// parent, top first, and reports whether all of them are searchable by
// anyone (o+x, no ACL).
func aboveMount(mount string) ([]ancestor, bool) {
	if mount == "" || mount[0] != '/' {
		return nil, false
	}
	var as []ancestor
	open := true
	dir := "/"
	rest := strings.Trim(mount, "/")
	for {
		a := ancestor{path: dir}
		var stx unix.Statx_t
		err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC,
			unix.STATX_MODE|unix.STATX_UID|unix.STATX_GID, &stx)
		if err == nil && stx.Mode&unix.S_IFMT == unix.S_IFDIR {
			_, xerr := unix.Lgetxattr(dir, "system.posix_acl_access", nil)
			a.mode, a.uid, a.gid = uint32(stx.Mode&0o7777), stx.Uid, stx.Gid
			a.known = xerr == unix.ENODATA || xerr == unix.EOPNOTSUPP
		}
		if !a.known || a.mode&0o001 == 0 {
			open = false
		}
		as = append(as, a)
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return as, open
		}
		dir = strings.TrimSuffix(dir, "/") + "/" + rest[:i]
		rest = rest[i+1:]
	}
}

// entersFrom reports whether a walk that starts at start (an absolute
// directory path; "/" for an absolute path argument) reaches the mount by
// passing directories above it, that is start is not inside the mount.
func entersFrom(view *mountView, start string) bool {
	_, inside := fsimpl.Within(view.path, start)
	return !inside
}

// reachable reports whether thread credentials cr may walk from start into
// the mount, for every call: with its fsuid, fsgid and capabilities, and
// with the real ids that access(2) walks with (fs/open.c:
// access_override_creds() holds for the whole walk, ancestors included).
// A caller whose two differ (a setuid program) and may search with one
// only is left to the kernel for every call.
func (v *mountView) reachable(cr *taskCred, start string) bool {
	if v.aboveOpen || !v.searchable(&cr.fs, start) {
		return v.aboveOpen
	}
	if cr.ruid == cr.fs.UID && cr.rgid == cr.fs.GID && (cr.ruid != 0 || cr.capPrm == cr.fs.Caps) && (cr.ruid == 0 || cr.fs.Caps == 0) {
		return true // access(2) walks with the same credential
	}
	return v.searchable(cr.accessCred(0), start)
}

// searchable reports whether cr may walk from start into the mount, as
// far as the view can tell: false means only the kernel can answer (the
// caller may not search some directory above the mount, or one of them
// has an ACL or could not be read). start is as for entersFrom.
func (v *mountView) searchable(cr *fsimpl.Cred, start string) bool {
	if v.aboveOpen || !entersFrom(v, start) {
		return true
	}
	for _, a := range v.above {
		// The walk passes start and the directories below it.
		if start != "/" && a.path != start && !strings.HasPrefix(a.path, start+"/") {
			continue
		}
		if !a.known || !cr.MaySearch(a.mode, a.uid, a.gid) {
			return false
		}
	}
	return true
}
