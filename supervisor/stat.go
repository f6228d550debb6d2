package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// fuseSuperMagic is what statfs reports for a FUSE mount.
const fuseSuperMagic = 0x65735546

// statOf fills a struct stat as the FUSE door would: same device, same
// inode numbers.
func (s *Supervisor) statOf(a *fsimpl.Attr) unix.Stat_t {
	return unix.Stat_t{
		Dev:     s.dev,
		Ino:     uint64(a.Ino),
		Nlink:   uint64(a.Nlink),
		Mode:    a.Mode,
		Uid:     a.UID,
		Gid:     a.GID,
		Rdev:    a.Rdev,
		Size:    int64(a.Size),
		Blksize: int64(a.Blksize),
		Blocks:  int64(a.Blocks),
		Atim:    a.Atime,
		Mtim:    a.Mtime,
		Ctim:    a.Ctime,
	}
}

// putStat writes a's struct stat at addr of the target.
func (c *call) putStat(addr uint64, a *fsimpl.Attr) result {
	st := c.s.statOf(a)
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, addr, asBytes(&st)); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(0)
}

// stat serves stat, lstat and newfstatat (fs/stat.c:vfs_statx()).
func (c *call) stat(dirfd int32, pathAddr, buf uint64, flags int) result {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		if a, ok := c.emptyPathAttr(dirfd, pathAddr); ok {
			return c.putStat(buf, &a)
		}
	}
	w, _, r, ok := c.resolvePath(dirfd, pathAddr, walkFlags(flags)|walkData)
	if !ok {
		return r
	}
	if w.err != 0 {
		return fail(w.err)
	}
	return c.putStat(buf, &w.attr)
}

// walkFlags turns *at() flags into walk flags.
func walkFlags(flags int) int {
	wf := 0
	if flags&unix.AT_SYMLINK_NOFOLLOW == 0 {
		wf |= walkFollow
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		wf |= walkEmptyOK
	}
	return wf
}

// emptyPathAttr answers an AT_EMPTY_PATH call whose path is empty and
// whose fd is a served descriptor.
func (c *call) emptyPathAttr(dirfd int32, pathAddr uint64) (fsimpl.Attr, bool) {
	var b [1]byte
	if n, e := readMem(c.tid, pathAddr, b[:]); e != 0 || n != 1 || b[0] != 0 {
		return fsimpl.Attr{}, false
	}
	ino, ok := c.fdIno(dirfd)
	if !ok {
		return fsimpl.Attr{}, false
	}
	a, e := c.s.fs.GetAttr(ino)
	return a, e == 0
}

// fstat serves fstat on a descriptor of the reserved range.
func (c *call) fstat() result {
	ino, ok := c.fdIno(c.fdArg(0))
	if !ok {
		return cont()
	}
	a, e := c.s.fs.GetAttr(ino)
	if e != 0 {
		return cont()
	}
	return c.putStat(c.arg(1), &a)
}

// statx serves statx(dirfd, path, flags, mask, buf).
func (c *call) statx() result {
	dirfd, pathAddr, flags, buf := c.fdArg(0), c.arg(1), c.intArg(2), c.arg(4)
	const syncMask = 0x6000 // AT_STATX_SYNC_TYPE
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|syncMask) != 0 || flags&syncMask == syncMask {
		return fail(unix.EINVAL)
	}
	if c.u32Arg(3)&unix.STATX__RESERVED != 0 {
		return fail(unix.EINVAL)
	}
	var a fsimpl.Attr
	got := false
	if flags&unix.AT_EMPTY_PATH != 0 {
		a, got = c.emptyPathAttr(dirfd, pathAddr)
	}
	if !got {
		w, _, r, ok := c.resolvePath(dirfd, pathAddr, walkFlags(flags)|walkData)
		if !ok {
			return r
		}
		if w.err != 0 {
			return fail(w.err)
		}
		a = w.attr
	}
	stx := unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS | unix.STATX_MNT_ID,
		Blksize:    a.Blksize,
		Nlink:      a.Nlink,
		Uid:        a.UID,
		Gid:        a.GID,
		Mode:       uint16(a.Mode),
		Ino:        uint64(a.Ino),
		Size:       a.Size,
		Blocks:     a.Blocks,
		Atime:      unix.StatxTimestamp{Sec: a.Atime.Sec, Nsec: uint32(a.Atime.Nsec)},
		Mtime:      unix.StatxTimestamp{Sec: a.Mtime.Sec, Nsec: uint32(a.Mtime.Nsec)},
		Ctime:      unix.StatxTimestamp{Sec: a.Ctime.Sec, Nsec: uint32(a.Ctime.Nsec)},
		Rdev_major: unix.Major(a.Rdev),
		Rdev_minor: unix.Minor(a.Rdev),
		Dev_major:  unix.Major(c.s.dev),
		Dev_minor:  unix.Minor(c.s.dev),
		Mnt_id:     c.s.mntID,
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, buf, asBytes(&stx)); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(0)
}

// access serves access, faccessat and faccessat2 (fs/open.c:do_faccessat():
// the real ids unless AT_EACCESS).
func (c *call) access(dirfd int32, pathAddr uint64, mode uint32, flags int) result {
	if mode&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return fail(unix.EINVAL)
	}
	p, e := c.path(pathAddr)
	if e != 0 {
		return fail(e)
	}
	cr, e := c.credentials()
	if e != 0 {
		return cont()
	}
	use := cr.fs
	if flags&unix.AT_EACCESS == 0 {
		use.UID, use.GID = cr.ruid, cr.rgid
	}
	if p == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return fail(unix.ENOENT)
		}
		// About dirfd itself: answer for a served descriptor (its backing
		// file's mode is not the inode's), let the kernel check any other.
		ino, served := c.fdIno(dirfd)
		if !served {
			return cont()
		}
		if e := c.s.fs.Access(&use, ino, mode); e != 0 {
			return fail(e)
		}
		return ok(0)
	}
	full, okp := absPath(c.tid, dirfd, p)
	if !okp {
		return cont()
	}
	rest, in := c.s.underMount(full)
	if !in {
		return cont()
	}
	w := c.s.walkIn(&use, fsimpl.RootIno, rest, walkFlags(flags), 0)
	if w.outside || w.err == unix.ESTALE {
		return cont()
	}
	if w.err != 0 {
		return fail(w.err)
	}
	if e := c.s.fs.Access(&use, w.attr.Ino, mode); e != 0 {
		return fail(e)
	}
	return ok(0)
}

// readlink serves readlink and readlinkat.
func (c *call) readlink(dirfd int32, pathAddr, buf, size uint64) result {
	if int64(size) <= 0 {
		return fail(unix.EINVAL)
	}
	w, cr, r, good := c.resolvePath(dirfd, pathAddr, walkEmptyOK)
	if !good {
		return r
	}
	if w.err != 0 {
		return fail(w.err)
	}
	if w.attr.Mode&unix.S_IFMT != unix.S_IFLNK {
		return fail(unix.EINVAL)
	}
	t, e := c.s.fs.Readlink(&cr.fs, w.attr.Ino)
	if e != 0 {
		return fail(e)
	}
	b := []byte(t)
	if uint64(len(b)) > size {
		b = b[:size]
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, buf, b); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(int64(len(b)))
}
