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

// StatArgsErr is the kernel's EINVAL for fstatat flags it does not know
// (fs/stat.c:vfs_fstatat()), 0 for valid ones: for every lane's stat.
func StatArgsErr(flags int) unix.Errno {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return unix.EINVAL
	}
	return 0
}

// StatxArgsErr is the kernel's EINVAL for statx flags and masks it refuses
// (fs/stat.c:do_statx()): unknown flags, both sync types, reserved mask
// bits.
func StatxArgsErr(flags int, mask uint32) unix.Errno {
	const syncMask = 0x6000 // AT_STATX_SYNC_TYPE
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|syncMask) != 0 || flags&syncMask == syncMask {
		return unix.EINVAL
	}
	if mask&unix.STATX__RESERVED != 0 {
		return unix.EINVAL
	}
	return 0
}

// AccessArgsErr is the kernel's EINVAL for faccessat2 modes and flags it
// does not know (fs/open.c:do_faccessat()).
func AccessArgsErr(mode uint32, flags int) unix.Errno {
	if mode&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	if flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	return 0
}

// stat serves stat, lstat and newfstatat (fs/stat.c:vfs_statx()).
func (c *call) stat(dirfd int32, pathAddr, buf uint64, flags int) result {
	if e := StatArgsErr(flags); e != 0 {
		return fail(e)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		if a, ok := c.emptyPathAttr(dirfd, pathAddr); ok {
			return c.putStat(buf, &a)
		}
	}
	at, r, ok := c.at(dirfd, pathAddr, atFlags(flags))
	if !ok {
		return r
	}
	a, e := c.s.fs.StatAt(at)
	if e != 0 {
		return fromErrno(e)
	}
	return c.putStat(buf, &a)
}

// atFlags turns *at() flags into call.at flags.
func atFlags(flags int) int {
	f := 0
	if flags&unix.AT_SYMLINK_NOFOLLOW == 0 {
		f |= atFollow
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		f |= atEmptyOK
	}
	return f
}

// emptyPathIno reports the inode of an AT_EMPTY_PATH call whose path is
// empty and whose fd is a served descriptor.
func (c *call) emptyPathIno(dirfd int32, pathAddr uint64) (fsimpl.Ino, bool) {
	if !c.emptyPath(pathAddr) {
		return 0, false
	}
	return c.fdIno(dirfd)
}

// emptyPath reports whether the path argument at pathAddr is "".
func (c *call) emptyPath(pathAddr uint64) bool {
	var b [1]byte
	n, e := readMem(c.tid, pathAddr, b[:])
	return e == 0 && n == 1 && b[0] == 0
}

// emptyPathAttr answers an AT_EMPTY_PATH call whose path is empty and
// whose fd is a served descriptor.
func (c *call) emptyPathAttr(dirfd int32, pathAddr uint64) (fsimpl.Attr, bool) {
	if !c.emptyPath(pathAddr) {
		return fsimpl.Attr{}, false
	}
	a, ok := c.fdAttr(dirfd)
	if !ok || !c.admitted() {
		return fsimpl.Attr{}, false
	}
	return a, true
}

// fstat serves fstat on a descriptor of the reserved range.
func (c *call) fstat() result {
	a, ok := c.fdAttr(c.fdArg(0))
	if !ok || !c.admitted() {
		return cont()
	}
	return c.putStat(c.arg(1), &a)
}

// statx serves statx(dirfd, path, flags, mask, buf).
func (c *call) statx() result {
	dirfd, pathAddr, flags, buf := c.fdArg(0), c.arg(1), c.intArg(2), c.arg(4)
	if e := StatxArgsErr(flags, c.u32Arg(3)); e != 0 {
		return fail(e)
	}
	var a fsimpl.Attr
	got := false
	if flags&unix.AT_EMPTY_PATH != 0 {
		a, got = c.emptyPathAttr(dirfd, pathAddr)
	}
	if !got {
		at, r, ok := c.at(dirfd, pathAddr, atFlags(flags))
		if !ok {
			return r
		}
		var e unix.Errno
		if a, e = c.s.fs.StatAt(at); e != 0 {
			return fromErrno(e)
		}
	}
	stx := c.s.statxOf(&a)
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
	if e := AccessArgsErr(mode, flags); e != 0 {
		return fail(e)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		// About dirfd itself: answer for a served descriptor (its backing
		// file's mode is not the inode's), let the kernel check any other.
		if ino, served := c.emptyPathIno(dirfd, pathAddr); served {
			cr, e := c.credentials()
			if e != 0 {
				return cont()
			}
			return fromErrno(c.s.fs.Access(cr.accessCred(flags), ino, mode))
		}
	}
	at, r, ok := c.at(dirfd, pathAddr, atFlags(flags))
	if !ok {
		return r
	}
	cr, _ := c.credentials() // read by c.at
	at.Cred = cr.accessCred(flags)
	return fromErrno(c.s.fs.AccessAt(at, mode))
}

// readlink serves readlink and readlinkat.
func (c *call) readlink(dirfd int32, pathAddr, buf, size uint64) result {
	if int64(size) <= 0 {
		return fail(unix.EINVAL)
	}
	at, r, good := c.at(dirfd, pathAddr, atEmptyOK)
	if !good {
		return r
	}
	t, e := c.s.fs.ReadlinkAt(at)
	if e != 0 {
		return fromErrno(e)
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

// statxOf fills a struct statx as the FUSE door would.
func (s *Supervisor) statxOf(a *fsimpl.Attr) unix.Statx_t {
	return unix.Statx_t{
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
		Dev_major:  unix.Major(s.dev),
		Dev_minor:  unix.Minor(s.dev),
		Mnt_id:     s.mntID,
	}
}
