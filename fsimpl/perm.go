package fsimpl

import "golang.org/x/sys/unix"

// Permission masks, as the kernel's MAY_* bits.
const (
	mayExec  = 1
	mayWrite = 2
	mayRead  = 4
)

// capable reports whether c holds capability cap in the initial user
// namespace (kernel/capability.c:capable()); a caller in another
// namespace holds none there.
func (c *Cred) capable(cap Caps) bool { return c.NS == nil && c.Caps&cap != 0 }

// capableWrt mirrors kernel/capability.c:capable_wrt_inode_uidgid(): c
// holds cap, and n's owner and group are mapped into c's user namespace.
func (c *Cred) capableWrt(n *inode, cap Caps) bool {
	return c.Caps&cap != 0 && c.NS.maps(n.uid, n.gid)
}

// maps reports whether uid and gid are both mapped into ns
// (privileged_wrt_inode_uidgid()).
func (ns *UserNS) maps(uid, gid uint32) bool {
	return ns == nil || inRanges(ns.UIDs, uid) && inRanges(ns.GIDs, gid)
}

func inRanges(rs []IDRange, id uint32) bool {
	for _, r := range rs {
		if id >= r.First && uint64(id) < uint64(r.First)+uint64(r.Count) {
			return true
		}
	}
	return false
}

// inGroup mirrors kernel/groups.c:in_group_p: the fsgid or a supplementary
// group.
func (c *Cred) inGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// permissionLocked checks mask (mayRead|mayWrite|mayExec) on n for c.
// Mirrors fs/namei.c:generic_permission(): acl_permission_check() picks the
// owner, group or other class; then, on a directory, CAP_DAC_READ_SEARCH
// allows reading and searching and CAP_DAC_OVERRIDE everything; on any
// other file CAP_DAC_READ_SEARCH allows reading alone, and CAP_DAC_OVERRIDE
// reading and writing, and executing when some execute bit is set.
//
// Preconditions: fs.mu is held.
func permissionLocked(c *Cred, n *inode, mask uint32) unix.Errno {
	mask &= mayRead | mayWrite | mayExec
	mode := n.mode
	switch {
	case c.UID == n.uid:
		mode >>= 6
	case c.inGroup(n.gid):
		mode >>= 3
	}
	if mask&^mode&7 == 0 {
		return 0
	}
	if n.isDir() {
		if mask&mayWrite == 0 && c.capableWrt(n, CapDacReadSearch) {
			return 0
		}
		if c.capableWrt(n, CapDacOverride) {
			return 0
		}
		return unix.EACCES
	}
	if mask == mayRead && c.capableWrt(n, CapDacReadSearch) {
		return 0
	}
	if (mask&mayExec == 0 || n.mode&0o111 != 0) && c.capableWrt(n, CapDacOverride) {
		return 0
	}
	return unix.EACCES
}

// ownerOrCapableLocked mirrors fs/inode.c:inode_owner_or_capable(): the
// owner, or CAP_FOWNER.
//
// Preconditions: fs.mu is held.
func ownerOrCapableLocked(c *Cred, n *inode) bool {
	return c.UID == n.uid || c.capableWrt(n, CapFowner)
}

// inGroupOrCapable mirrors fs/inode.c:in_group_or_capable(): member of
// gid (the group n has or is getting), or CAP_FSETID over n.
func inGroupOrCapable(c *Cred, n *inode, gid uint32) bool {
	return c.inGroup(gid) || c.capableWrt(n, CapFsetid)
}

// checkStickyLocked mirrors include/linux/fs.h:check_sticky(): in a sticky
// directory only the file's owner, the directory's owner or CAP_FOWNER may
// remove or replace an entry. It returns true when the caller may NOT.
//
// Preconditions: fs.mu is held.
func checkStickyLocked(c *Cred, dir, n *inode) bool {
	if dir.mode&unix.S_ISVTX == 0 {
		return false
	}
	return c.UID != n.uid && c.UID != dir.uid && !c.capableWrt(n, CapFowner)
}

// mayDeleteLocked mirrors fs/namei.c:may_delete(): may c remove (or rename
// away, or replace) victim from dir? isDir says whether the operation wants
// a directory (rmdir, or renaming a directory over victim).
//
// Preconditions: fs.mu is held; victim is an entry of dir.
func mayDeleteLocked(c *Cred, dir, victim *inode, isDir bool) unix.Errno {
	if e := permissionLocked(c, dir, mayWrite|mayExec); e != 0 {
		return e
	}
	if checkStickyLocked(c, dir, victim) {
		return unix.EPERM
	}
	if isDir {
		if !victim.isDir() {
			return unix.ENOTDIR
		}
		if victim.ino == RootIno {
			return unix.EBUSY
		}
	} else if victim.isDir() {
		return unix.EISDIR
	}
	return 0
}

// mayCreateLocked mirrors fs/namei.c:may_create() once the name is known to
// be free: a dead (removed) directory takes no new entries, and the caller
// needs write and search permission.
//
// Preconditions: fs.mu is held.
func mayCreateLocked(c *Cred, dir *inode) unix.Errno {
	if dir.nlink == 0 {
		return unix.ENOENT
	}
	return permissionLocked(c, dir, mayWrite|mayExec)
}

// Access checks mask (R_OK|W_OK|X_OK, or F_OK) for c. Mirrors
// fs/open.c:do_faccessat() after the path walk.
func (fs *FS) Access(c *Cred, ino Ino, mask uint32) unix.Errno {
	c = cred(c)
	if mask&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return e
	}
	if mask == unix.F_OK {
		return 0
	}
	// R_OK, W_OK and X_OK have the values of MAY_READ, MAY_WRITE, MAY_EXEC.
	return permissionLocked(c, n, mask)
}

// MaySearch reports whether c may search (walk through) a host directory
// with the given mode, owner and group and no ACL: generic_permission()
// with MAY_EXEC on a directory, which the lanes need for the directories
// above the mount, walked by the kernel before a path reaches the mount.
// A caller in another user namespace is not judged here (the lanes step
// aside for it), so its capabilities do not count.
func (c *Cred) MaySearch(mode, uid, gid uint32) bool {
	switch {
	case c.UID == uid:
		mode >>= 6
	case c.inGroup(gid):
		mode >>= 3
	}
	return mode&mayExec != 0 || c.capable(CapDacReadSearch) || c.capable(CapDacOverride)
}

// grantedToAllLocked is the part of mayRead|mayWrite|mayExec that
// permissionLocked grants n to every credential: a credential falls into
// exactly one of the owner, group and other classes and capabilities only
// add to what its class allows, so a bit set in all three classes is
// granted to all (for exec on a non-directory, root's CAP_DAC_OVERRIDE
// asks for some x bit, which is then set). The metadata view publishes
// it, so that its reader needs no permission rule of its own.
//
// Preconditions: fs.mu is held.
func grantedToAllLocked(n *inode) uint32 {
	return (n.mode >> 6) & (n.mode >> 3) & n.mode & 7
}

// followedByAllLocked reports whether every credential may follow every
// symlink in directory dir (mayFollowLocked never refuses there: dir is
// not both sticky and world-writable).
//
// Preconditions: fs.mu is held.
func followedByAllLocked(dir *inode) bool {
	return dir.mode&(unix.S_ISVTX|0o002) != unix.S_ISVTX|0o002
}
