package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// The handlers here change names and attributes in the mount: each decodes
// its arguments and makes one fsimpl *At call, which walks the path and
// makes the change with the caller's credentials and umask atomically, and
// steps aside (CONTINUE) where only the kernel knows the answer. A rename
// or link with one path inside the mount and one outside is CONTINUEd,
// and the kernel answers EXDEV.
//
// chdir stays CONTINUEd: the cwd of another process cannot be set from
// outside it (there is no ADDFD for fs_struct), so the kernel walks the
// path through the FUSE door.

// mkdir serves mkdir and mkdirat (fs/namei.c:do_mkdirat()).
func (c *call) mkdir(dirfd int32, addr uint64, mode uint32) result {
	at, r, good := c.at(dirfd, addr, 0)
	if !good {
		return r
	}
	return c.change(func() unix.Errno {
		_, e := c.s.fs.MkdirAt(at, mode)
		return e
	})
}

// mknod serves mknod and mknodat of regular files, FIFOs and sockets;
// devices go to the kernel (CAP_MKNOD and the mount's nodev are its call).
func (c *call) mknod(dirfd int32, addr uint64, mode uint32, dev uint64) result {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		return cont()
	}
	at, r, good := c.at(dirfd, addr, 0)
	if !good {
		return r
	}
	return c.change(func() unix.Errno {
		_, e := c.s.fs.MknodAt(at, mode, 0)
		return e
	})
}

// unlink serves unlink, unlinkat and rmdir (fs/namei.c:do_unlinkat(),
// do_rmdir()).
func (c *call) unlink(dirfd int32, addr uint64, flags int) result {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return fail(unix.EINVAL)
	}
	at, r, good := c.at(dirfd, addr, 0)
	if !good {
		return r
	}
	return c.change(func() unix.Errno { return c.s.fs.UnlinkAt(at, flags&unix.AT_REMOVEDIR != 0) })
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
		// A whiteout is a device node: CAP_MKNOD is the kernel's call.
		return cont()
	}
	old, r, good := c.at(odirfd, oaddr, 0)
	if !good {
		return r
	}
	oldPath := c.pathArg
	new, r, good := c.at(ndirfd, naddr, 0)
	c.pathArg = oldPath
	if !good {
		return r
	}
	return c.change(func() unix.Errno { return c.s.fs.RenameAt(old, new, flags) })
}

// symlink serves symlink and symlinkat.
func (c *call) symlink(taddr uint64, dirfd int32, addr uint64) result {
	target, e := c.path(taddr)
	if e != 0 {
		return fail(e)
	}
	at, r, good := c.at(dirfd, addr, 0)
	if !good {
		return r
	}
	return c.change(func() unix.Errno {
		_, e := c.s.fs.SymlinkAt(target, at)
		return e
	})
}

// link serves link and linkat (fs/namei.c:do_linkat()).
func (c *call) link(odirfd int32, oaddr uint64, ndirfd int32, naddr uint64, flags int) result {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return fail(unix.EINVAL)
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return cont()
	}
	follow := 0
	if flags&unix.AT_SYMLINK_FOLLOW != 0 {
		follow = atFollow
	}
	old, r, good := c.at(odirfd, oaddr, follow)
	if !good {
		return r
	}
	oldPath := c.pathArg
	new, r, good := c.at(ndirfd, naddr, 0)
	c.pathArg = oldPath
	if !good {
		return r
	}
	return c.change(func() unix.Errno {
		_, e := c.s.fs.LinkAt(old, new)
		return e
	})
}

// setAttrPath serves chmod, chown, truncate and utimensat on a path.
func (c *call) setAttrPath(dirfd int32, addr uint64, flags int, in *fsimpl.SetAttrIn) result {
	at, r, good := c.at(dirfd, addr, atFlags(flags))
	if !good {
		return r
	}
	return c.change(func() unix.Errno { return c.s.fs.SetAttrAt(at, in) })
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
		// fchownat(fd, "", AT_EMPTY_PATH) is fchown of fd: a served
		// descriptor's inode, not its backing file.
		ino, served := c.emptyPathIno(dirfd, addr)
		return c.inoSetAttr(ino, served, ChownIn(uid, gid))
	}
	return c.setAttrPath(dirfd, addr, flags, ChownIn(uid, gid))
}

// StatfsOf is the struct statfs both lanes report for st: fsimpl's
// numbers on the FUSE mount's type, flags and fsid (read once, at New).
func (s *Supervisor) StatfsOf(st fsimpl.StatFs) unix.Statfs_t {
	out := s.statfsBase
	out.Blocks, out.Bfree, out.Bavail = st.Blocks, st.Bfree, st.Bavail
	out.Files, out.Ffree = st.Files, st.Ffree
	out.Bsize, out.Namelen, out.Frsize = int64(st.Bsize), int64(st.NameLen), int64(st.Frsize)
	return out
}

// ChownIn is the setattr of chown(uid, gid), -1 leaving an id alone: for
// every lane's chown.
func ChownIn(uid, gid uint32) *fsimpl.SetAttrIn {
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
	at, r, good := c.at(unix.AT_FDCWD, addr, atFollow)
	if !good {
		return r
	}
	st, e := c.s.fs.StatFsAt(at)
	if e != 0 {
		return fromErrno(e)
	}
	out := c.s.StatfsOf(st)
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if e := writeMem(c.tid, buf, asBytes(&out)); e != 0 {
		return fail(unix.EFAULT)
	}
	return ok(0)
}
