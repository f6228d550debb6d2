package fsimpl

import (
	"math"

	"golang.org/x/sys/unix"
)

// attrLocked builds what stat reports about n. A regular file's size,
// blocks, atime and mtime come from its backing file, and its ctime is the
// later of the stored one and the backing one, so writes through natively
// installed descriptors show at once.
//
// Preconditions: fs.mu is held.
func (fs *FS) attrLocked(n *inode) Attr {
	return fs.attrWithLocked(n, nil)
}

// attrWithLocked is attrLocked with the backing file's stat in hand when
// st is not nil (it is then n's backing file's, taken just now).
//
// Preconditions: fs.mu is held.
func (fs *FS) attrWithLocked(n *inode, st *unix.Stat_t) Attr {
	a := fs.metaAttrLocked(n)
	if n.isReg() {
		var own unix.Stat_t
		if st == nil && fs.back.stat(n.ino, &own) == 0 {
			st = &own
		}
		if st != nil {
			fs.noteAlloc(n, st.Blocks)
			a.Size = uint64(st.Size)
			a.Blocks = uint64(st.Blocks)
			a.Atime = st.Atim
			a.Mtime = st.Mtim
			if tsAfter(st.Ctim, a.Ctime) {
				a.Ctime = st.Ctim
			}
			a.Mode &^= lostPrivs(n, st.Mode)
		}
	}
	return a
}

// metaAttrLocked is attrLocked without what a regular file's backing file
// keeps: its size and blocks are zero, its times are the stored ones, and
// setuid/setgid that a native write cleared there may still show (see
// privs.go; its caller only routes writable opens of such files through
// the kernel, where a stale bit costs speed, not correctness).
//
// Preconditions: fs.mu is held.
func (fs *FS) metaAttrLocked(n *inode) Attr {
	a := Attr{
		Ino:     n.ino,
		Mode:    n.mode,
		Nlink:   n.nlink,
		UID:     n.uid,
		GID:     n.gid,
		Rdev:    n.rdev,
		Blksize: pageSize,
		Atime:   n.atime,
		Mtime:   n.mtime,
		Ctime:   n.ctime,

		Volatile: n.foreignWriters > 0,
	}
	switch n.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		a.Size = n.dir.size()
	case unix.S_IFLNK:
		a.Size = uint64(len(n.target))
		if len(n.target)+1 > shortSymlinkLen {
			a.Blocks = pageSize / 512
		}
	}
	return a
}

func tsAfter(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || a.Sec == b.Sec && a.Nsec > b.Nsec
}

// BackingAttr reports the attributes of the inode whose backing file st
// describes: the kernel's stat of a descriptor on it that the caller found
// (a target's served descriptor), which is the backing file's own, so it
// is not stat'ed again. ok false: st is not of a backing file fsimpl
// knows (see BackingIno).
func (fs *FS) BackingAttr(st *unix.Stat_t) (a Attr, ok bool) {
	if st.Dev != fs.back.dev {
		return Attr{}, false
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	i, ok := fs.byBacking[st.Ino]
	if !ok {
		return Attr{}, false
	}
	n, e := fs.getLocked(i)
	if e != 0 || !n.isReg() {
		return Attr{}, false
	}
	return fs.attrWithLocked(n, st), true
}

// GetAttr reports the attributes of ino.
func (fs *FS) GetAttr(ino Ino) (Attr, unix.Errno) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return Attr{}, e
	}
	return fs.attrLocked(n), 0
}

// SetAttr changes mode, owner, size and times with the kernel's permission
// rules (notify_change/setattr_prepare). h, when not nil, is the open File
// the request came through (ftruncate, futimens): a size change is then
// authorised by its access mode instead of the inode's permission bits.
//
// All checks run before anything changes, as in fs/attr.c:notify_change();
// the size is applied first because it is the only step that can fail.
func (fs *FS) SetAttr(c *Cred, ino Ino, in *SetAttrIn, h *File) (Attr, unix.Errno) {
	c = cred(c)
	if in == nil {
		in = &SetAttrIn{}
	}
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return Attr{}, e
	}
	if e := fs.setAttrLocked(c, n, in, h); e != 0 {
		return Attr{}, e
	}
	ch.setAttr(walked{n: n}, in.Valid)
	return fs.attrLocked(n), 0
}

// setAttrLocked is SetAttr on inode n.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) setAttrLocked(c *Cred, n *inode, in *SetAttrIn, h *File) unix.Errno {
	v := in.Valid
	fs.viewInoLocked(n)
	fs.syncPrivsLocked(n)
	if e := fs.setAttrCheckLocked(c, n, in, h); e != 0 {
		return e
	}
	t := now()
	changed := false
	if v&SetSize != 0 {
		if e := fs.truncateLocked(n, int64(in.Size), h); e != 0 {
			return e
		}
		// do_truncate() asks notify_change to drop privileges
		// (dentry_needs_remove_privs) for a caller without CAP_FSETID.
		if !c.capable(CapFsetid) {
			n.mode &^= killPrivMaskLocked(c, n)
		}
		changed = true
	}
	if v&(SetKillSUIDGID|SetNoopChown) != 0 {
		// The kernel asks only when setattr_should_drop_suidgid() found
		// something to drop for this caller; the mask weighs the caller's
		// groups for setgid the same way.
		n.mode &^= killPrivMaskLocked(c, n)
		changed = true
	}
	if v&(SetUID|SetGID) != 0 {
		// fs/open.c:chown_common(): a non-directory loses setuid, and
		// setgid as setattr_should_drop_sgid() decides with the old
		// group, whoever the caller is.
		n.mode &^= killPrivMaskLocked(c, n)
		if v&SetUID != 0 {
			n.uid = in.UID
		}
		if v&SetGID != 0 {
			n.gid = in.GID
		}
		changed = true
	}
	if v&SetMode != 0 {
		mode := in.Mode & 0o7777
		// fs/attr.c:setattr_prepare(): setgid is dropped unless the
		// caller is in the (new) group or has CAP_FSETID.
		if !inGroupOrCapable(c, n, n.gid) {
			mode &^= unix.S_ISGID
		}
		n.mode = n.mode&unix.S_IFMT | mode
		changed = true
	}
	if v&(SetAtime|SetAtimeNow|SetMtime|SetMtimeNow) != 0 {
		if e := fs.setTimesLocked(n, in, t); e != 0 {
			return e
		}
		changed = true
	}
	if changed || v == 0 {
		// An empty request is chown(-1, -1) or utime-less touch of
		// notify_change(): ATTR_CTIME alone still sets ctime
		// (fs/attr.c:setattr_copy on tmpfs).
		n.ctime = t
	}
	if n.isReg() {
		fs.mirrorPrivsLocked(n)
	}
	return 0
}

// setAttrCheckLocked makes every permission decision of a setattr before
// anything changes: fs/open.c:do_sys_truncate/vfs_truncate and
// do_ftruncate for the size, fs/attr.c:setattr_prepare (chown_ok,
// chgrp_ok, owner for chmod and explicit times) and may_setattr (ATTR_TOUCH).
//
// Preconditions: fs.mu is held.
func (fs *FS) setAttrCheckLocked(c *Cred, n *inode, in *SetAttrIn, h *File) unix.Errno {
	v := in.Valid
	if v&SetSize != 0 {
		if h != nil {
			// fs/open.c:do_ftruncate(): EINVAL unless a regular file
			// open for writing.
			if !n.isReg() || h.Ino != n.ino || !accWrites(h.Flags) {
				return unix.EINVAL
			}
		} else {
			switch {
			case n.isDir():
				return unix.EISDIR
			case !n.isReg():
				return unix.EINVAL
			}
			if e := permissionLocked(c, n, mayWrite); e != 0 {
				return e
			}
		}
		if in.Size > math.MaxInt64 {
			return unix.EINVAL
		}
	}
	for _, x := range []struct {
		bit uint32
		ts  unix.Timespec
	}{{SetAtime, in.Atime}, {SetMtime, in.Mtime}} {
		// fs/utimes.c:nsec_valid()
		if v&x.bit != 0 && (x.ts.Nsec < 0 || x.ts.Nsec > 999999999) {
			return unix.EINVAL
		}
	}
	// chown_ok() and chgrp_ok(): the owner may keep the owner and give
	// the file a group of its own; CAP_CHOWN may do anything.
	if v&SetUID != 0 && !(c.UID == n.uid && in.UID == n.uid) && !c.capableWrt(n, CapChown) {
		return unix.EPERM
	}
	if v&SetGID != 0 && !c.capableWrt(n, CapChown) {
		if c.UID != n.uid || (in.GID != n.gid && !c.inGroup(in.GID)) {
			return unix.EPERM
		}
	}
	if v&SetMode != 0 && !ownerOrCapableLocked(c, n) {
		return unix.EPERM
	}
	// notify_change() turns the setuid/setgid drop of a chown into a mode
	// change, which setattr_prepare() allows only the owner or
	// CAP_FOWNER: a chown by anyone else that has a bit to drop is EPERM.
	if v&(SetUID|SetGID|SetNoopChown) != 0 && killPrivMaskLocked(c, n)&n.mode != 0 && !ownerOrCapableLocked(c, n) {
		return unix.EPERM
	}
	touch := v&(SetAtime|SetMtime) == 0 && v&(SetAtimeNow|SetMtimeNow) == SetAtimeNow|SetMtimeNow
	switch {
	case touch:
		// fs/attr.c:may_setattr(), ATTR_TOUCH: owner, CAP_FOWNER or
		// write permission.
		if !ownerOrCapableLocked(c, n) {
			if e := permissionLocked(c, n, mayWrite); e != 0 {
				return e
			}
		}
	case v&(SetAtime|SetMtime|SetAtimeNow|SetMtimeNow) != 0:
		// ATTR_TIMES_SET: explicit times (or one "now" with the other
		// omitted) need the owner or CAP_FOWNER.
		if !ownerOrCapableLocked(c, n) {
			return unix.EPERM
		}
	}
	return 0
}

// killPrivMaskLocked is what ATTR_KILL_SUID|ATTR_KILL_SGID clear for c,
// mirroring fs/inode.c:should_remove_suid() and
// fs/attr.c:setattr_should_drop_sgid(): setuid always; setgid when the
// group may execute, or when c is neither in the file's group nor has
// CAP_FSETID. Only regular files lose them (chown_common skips
// directories; the others have no such bits in use). The callers decide
// whether a kill applies at all (chown always; write and truncate only
// without CAP_FSETID).
//
// Preconditions: fs.mu is held.
func killPrivMaskLocked(c *Cred, n *inode) uint32 {
	if n.isDir() {
		return 0
	}
	kill := uint32(unix.S_ISUID)
	if n.mode&unix.S_ISGID != 0 && (n.mode&unix.S_IXGRP != 0 || !inGroupOrCapable(c, n, n.gid)) {
		kill |= unix.S_ISGID
	}
	return kill
}

// truncateLocked sets the size of regular file n through h's descriptor
// when given, else through a short-lived one. The kernel of the backing
// answers EFBIG and ENOSPC.
//
// Preconditions: fs.mu is held for writing; n is a regular file.
func (fs *FS) truncateLocked(n *inode, size int64, h *File) unix.Errno {
	// Growing is sparse on tmpfs: nothing to reserve.
	var e unix.Errno
	if h != nil && accWrites(h.Flags) {
		e = ftruncate(h.Fd, size)
	} else {
		e = fs.back.truncate(n.ino, size)
	}
	fs.refreshAlloc(n)
	return e
}

// setTimesLocked applies atime and mtime. For regular files the backing
// file holds them (utimensat with AT_SYMLINK_NOFOLLOW), so it stays
// authoritative.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) setTimesLocked(n *inode, in *SetAttrIn, t unix.Timespec) unix.Errno {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	switch {
	case in.Valid&SetAtimeNow != 0:
		ts[0] = t
	case in.Valid&SetAtime != 0:
		ts[0] = in.Atime
	}
	switch {
	case in.Valid&SetMtimeNow != 0:
		ts[1] = t
	case in.Valid&SetMtime != 0:
		ts[1] = in.Mtime
	}
	if n.isReg() {
		return fs.back.utimens(n.ino, ts)
	}
	if ts[0].Nsec != unix.UTIME_OMIT {
		n.atime = ts[0]
	}
	if ts[1].Nsec != unix.UTIME_OMIT {
		n.mtime = ts[1]
	}
	return 0
}
