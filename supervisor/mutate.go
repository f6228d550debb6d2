package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// The handlers here change names and attributes in the mount, with the
// caller's fsuid, fsgid, groups and umask; fsimpl makes the permission
// checks. A path that is outside the mount, or that the walk cannot judge,
// is CONTINUEd, and so is any case the kernel answers with an errno that
// depends on the mount structure (the mount root or "." / ".." as the
// last component: EBUSY, EINVAL, ENOTEMPTY): the kernel then runs the call
// on the FUSE door. A rename or link with one path inside and one outside
// is CONTINUEd too, and the kernel answers EXDEV.
//
// chdir stays CONTINUEd: the cwd of another process cannot be set from
// outside it (there is no ADDFD for fs_struct), so the kernel walks the
// path through the FUSE door.
//
// Every change is reported to the FUSE door before the reply (call.inval*:
// the kernel has dropped what it cached by the time the target goes on).

// lastOf resolves a path argument for a call that creates or removes its
// last component: the last component is not followed, a trailing slash is
// left to the caller. ok false: answer r.
func (c *call) lastOf(dirfd int32, addr uint64) (walkResult, *taskCred, result, bool) {
	w, cr, r, good := c.resolvePath(dirfd, addr, walkLast)
	if !good {
		return w, cr, r, false
	}
	if w.err != 0 && !(w.err == unix.ENOENT && w.name != "") {
		return w, cr, fail(w.err), false
	}
	if w.name == "" {
		return w, cr, cont(), false
	}
	return w, cr, result{}, true
}

// mkdir serves mkdir and mkdirat (fs/namei.c:do_mkdirat()).
func (c *call) mkdir(dirfd int32, addr uint64, mode uint32) result {
	w, cr, r, good := c.lastOf(dirfd, addr)
	if !good {
		return r
	}
	if w.found {
		return fail(unix.EEXIST)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if _, e := c.s.fs.Mkdir(&cr.fs, w.parent, w.name, mode&(0o777|unix.S_ISVTX)&^cr.umask); e != 0 {
		return fail(e)
	}
	c.invalNew(w.parent, w.name)
	return ok(0)
}

// mknod serves mknod and mknodat of regular files, FIFOs and sockets;
// devices go to the kernel (CAP_MKNOD and the mount's nodev are its call).
func (c *call) mknod(dirfd int32, addr uint64, mode uint32, dev uint64) result {
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		return cont()
	default:
		return fail(unix.EINVAL)
	}
	w, cr, r, good := c.lastOf(dirfd, addr)
	if !good {
		return r
	}
	if w.found {
		return fail(unix.EEXIST)
	}
	if w.slashed {
		return fail(unix.ENOENT)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if _, e := c.s.fs.Mknod(&cr.fs, w.parent, w.name, typ|mode&0o7777&^cr.umask, 0); e != 0 {
		return fail(e)
	}
	c.invalNew(w.parent, w.name)
	return ok(0)
}

// unlink serves unlink, unlinkat and rmdir (fs/namei.c:do_unlinkat(),
// do_rmdir()).
func (c *call) unlink(dirfd int32, addr uint64, flags int) result {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return fail(unix.EINVAL)
	}
	w, cr, r, good := c.lastOf(dirfd, addr)
	if !good {
		return r
	}
	if !w.found {
		return fail(unix.ENOENT)
	}
	typ := w.attr.Mode & unix.S_IFMT
	rmdir := flags&unix.AT_REMOVEDIR != 0
	if !rmdir && w.slashed {
		if typ == unix.S_IFDIR {
			return fail(unix.EISDIR)
		}
		return fail(unix.ENOTDIR)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	var e unix.Errno
	if rmdir {
		e = c.s.fs.Rmdir(&cr.fs, w.parent, w.name)
	} else {
		e = c.s.fs.Unlink(&cr.fs, w.parent, w.name)
	}
	if e != 0 {
		return fail(e)
	}
	c.invalDelete(w.parent, w.attr.Ino, w.name)
	return ok(0)
}

// rename serves rename, renameat and renameat2 with both paths in the
// mount (fs/namei.c:do_renameat2()).
func (c *call) rename(odirfd int32, oaddr uint64, ndirfd int32, naddr uint64, flags uint32) result {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return fail(unix.EINVAL)
	}
	// do_renameat2(): EXCHANGE excludes NOREPLACE and WHITEOUT, before
	// any lookup.
	if flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		return cont()
	}
	// do_renameat2() walks to both parents first, then looks up the old
	// name (a missing one is ENOENT), and only then the new one: an error
	// looking up the last component of either (ENAMETOOLONG) waits its turn.
	ow, cr, r, good := c.lastOf(odirfd, oaddr)
	oLast := !good && ow.lastLookup
	if !good && !oLast {
		return r
	}
	oldPath := c.pathArg
	nw, _, nr, ngood := c.lastOf(ndirfd, naddr)
	c.pathArg = oldPath
	if !ngood && !nw.lastLookup {
		return nr
	}
	if oLast {
		return r
	}
	if !ow.found {
		return fail(unix.ENOENT)
	}
	if !ngood {
		return nr
	}
	if flags&unix.RENAME_EXCHANGE != 0 && !nw.found {
		return fail(unix.ENOENT)
	}
	if flags&unix.RENAME_NOREPLACE != 0 && nw.found {
		return fail(unix.EEXIST)
	}
	// A trailing slash on either name needs a directory to move
	// (do_renameat2(): "if (!d_is_dir(old_dentry)) ... -ENOTDIR").
	if ow.attr.Mode&unix.S_IFMT != unix.S_IFDIR && (ow.slashed || nw.slashed && flags&unix.RENAME_EXCHANGE == 0) {
		return fail(unix.ENOTDIR)
	}
	if flags&unix.RENAME_EXCHANGE != 0 && nw.slashed && nw.attr.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fail(unix.ENOTDIR)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := c.s.fs.Rename(&cr.fs, ow.parent, ow.name, nw.parent, nw.name, flags); e != 0 {
		return fail(e)
	}
	c.invalEntry(ow.parent, ow.name)
	c.invalEntry(nw.parent, nw.name)
	c.invalInode(ow.attr.Ino)
	if nw.found {
		c.invalInode(nw.attr.Ino)
	}
	return ok(0)
}

// symlink serves symlink and symlinkat.
func (c *call) symlink(taddr uint64, dirfd int32, addr uint64) result {
	target, e := c.path(taddr)
	if e != 0 {
		return fail(e)
	}
	w, cr, r, good := c.lastOf(dirfd, addr)
	if !good {
		return r
	}
	if target == "" {
		return fail(unix.ENOENT)
	}
	if w.found {
		return fail(unix.EEXIST)
	}
	if w.slashed {
		return fail(unix.ENOENT)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if _, e := c.s.fs.Symlink(&cr.fs, w.parent, w.name, target); e != 0 {
		return fail(e)
	}
	c.invalNew(w.parent, w.name)
	return ok(0)
}

// link serves link and linkat (fs/namei.c:do_linkat()).
func (c *call) link(odirfd int32, oaddr uint64, ndirfd int32, naddr uint64, flags int) result {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return cont()
	}
	wf := 0
	if flags&unix.AT_SYMLINK_FOLLOW != 0 {
		wf = walkFollow
	}
	ow, cr, r, good := c.resolvePath(odirfd, oaddr, wf)
	if !good {
		return r
	}
	if ow.err != 0 {
		return fail(ow.err)
	}
	oldPath := c.pathArg
	nw, _, r, good := c.lastOf(ndirfd, naddr)
	c.pathArg = oldPath
	if !good {
		return r
	}
	if nw.found {
		return fail(unix.EEXIST)
	}
	if nw.slashed {
		return fail(unix.ENOENT)
	}
	// fsimpl.Link refuses a directory (EPERM) in vfs_link()'s order:
	// after may_linkat() and may_create().
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if _, e := c.s.fs.Link(&cr.fs, ow.attr.Ino, nw.parent, nw.name); e != 0 {
		return fail(e)
	}
	c.invalNew(nw.parent, nw.name)
	c.invalInode(ow.attr.Ino)
	return ok(0)
}

// setAttrPath serves chmod, chown, truncate and utimensat on a path.
func (c *call) setAttrPath(dirfd int32, addr uint64, flags int, in *fsimpl.SetAttrIn) result {
	w, cr, r, good := c.resolvePath(dirfd, addr, walkFlags(flags))
	if !good {
		return r
	}
	if w.err != 0 {
		return fail(w.err)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if _, e := c.s.fs.SetAttr(&cr.fs, w.attr.Ino, in, nil); e != 0 {
		return fail(e)
	}
	if in.Valid&(fsimpl.SetMode|fsimpl.SetUID|fsimpl.SetGID) != 0 {
		c.invalPerms(w.parent, w.name, w.attr.Ino)
	} else {
		c.invalInode(w.attr.Ino)
	}
	if in.Valid&fsimpl.SetSize != 0 {
		c.invalContent(w.attr.Ino)
	}
	return ok(0)
}

func (c *call) chmod(dirfd int32, addr uint64, mode uint32) result {
	return c.setAttrPath(dirfd, addr, 0, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: mode & 0o7777})
}

// chown serves chown, lchown and fchownat.
func (c *call) chown(dirfd int32, addr uint64, uid, gid uint32, flags int) result {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return cont()
	}
	return c.setAttrPath(dirfd, addr, flags, chownIn(uid, gid))
}

// chownIn is the setattr of chown(uid, gid), -1 leaving an id alone.
func chownIn(uid, gid uint32) *fsimpl.SetAttrIn {
	in := &fsimpl.SetAttrIn{}
	if uid != ^uint32(0) {
		in.Valid |= fsimpl.SetUID
		in.UID = uid
	}
	if gid != ^uint32(0) {
		in.Valid |= fsimpl.SetGID
		in.GID = gid
	}
	if in.Valid == 0 {
		// chown(-1, -1) still drops setuid/setgid of a non-directory
		// (fs/open.c:chown_common()), as a mode change only the owner
		// may make.
		in.Valid = fsimpl.SetNoopChown
	}
	return in
}

func (c *call) truncate(addr uint64, length int64) result {
	if length < 0 {
		return fail(unix.EINVAL)
	}
	return c.setAttrPath(unix.AT_FDCWD, addr, 0, &fsimpl.SetAttrIn{Valid: fsimpl.SetSize, Size: uint64(length)})
}

// utimensat serves the path form of utimensat; utimensat(fd, NULL, ...)
// (futimens) runs natively on the backing file, whose times fsimpl reads.
func (c *call) utimensat(dirfd int32, addr, timesAddr uint64, flags int) result {
	if addr == 0 {
		return cont()
	}
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return cont()
	}
	in := &fsimpl.SetAttrIn{}
	if timesAddr == 0 {
		in.Valid = fsimpl.SetAtimeNow | fsimpl.SetMtimeNow
	} else {
		var ts [2]unix.Timespec
		if n, e := readMem(c.tid, timesAddr, asBytes(&ts)); e != 0 || n != len(asBytes(&ts)) {
			return fail(unix.EFAULT)
		}
		for i, bits := range [2][2]uint32{{fsimpl.SetAtime, fsimpl.SetAtimeNow}, {fsimpl.SetMtime, fsimpl.SetMtimeNow}} {
			switch ts[i].Nsec {
			case unix.UTIME_OMIT:
			case unix.UTIME_NOW:
				in.Valid |= bits[1]
			default:
				if ts[i].Nsec < 0 || ts[i].Nsec > 999999999 {
					return fail(unix.EINVAL)
				}
				in.Valid |= bits[0]
			}
		}
		in.Atime, in.Mtime = ts[0], ts[1]
		if in.Valid == 0 {
			// Both omitted: fs/utimes.c:do_utimes() answers 0 before
			// it looks at the path.
			return ok(0)
		}
	}
	return c.setAttrPath(dirfd, addr, flags, in)
}

// statfs serves statfs: the numbers from fsimpl, the type, flags and fsid
// as the FUSE mount reports them (read once, at New).
func (c *call) statfs(addr, buf uint64) result {
	w, _, r, good := c.resolvePath(unix.AT_FDCWD, addr, walkFollow)
	if !good {
		return r
	}
	if w.err != 0 {
		return fail(w.err)
	}
	st := c.s.fs.StatFs()
	out := c.s.statfsBase
	out.Blocks, out.Bfree, out.Bavail = st.Blocks, st.Bfree, st.Bavail
	out.Files, out.Ffree = st.Files, st.Ffree
	out.Bsize, out.Namelen, out.Frsize = int64(st.Bsize), int64(st.NameLen), int64(st.Frsize)
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, buf, asBytes(&out)); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(0)
}
