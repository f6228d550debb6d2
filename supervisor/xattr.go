package supervisor

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// The fd forms of the xattr calls on a served descriptor. The descriptor
// is the backing file, so CONTINUE would set and read xattrs on it, where
// neither door looks (and let a POSIX ACL change its mode); they are
// answered from fsimpl like the path forms, which go to the FUSE door.
// Other descriptors (not served) go to the kernel.

const (
	xattrNameMax = 255   // XATTR_NAME_MAX
	xattrSizeMax = 65536 // XATTR_SIZE_MAX
	xattrListMax = 65536 // XATTR_LIST_MAX
)

// xattrName reads the name argument at addr as fs/xattr.c:import_xattr_name()
// does: empty or longer than XATTR_NAME_MAX is ERANGE. It is not a path,
// so the observer does not get it as one.
func (c *call) xattrName(addr uint64) (string, unix.Errno) {
	name, e := readString(c.tid, addr, c.buf[:])
	if e == unix.ENAMETOOLONG {
		return "", unix.ERANGE
	}
	if e != 0 {
		return "", e
	}
	if name == "" || len(name) > xattrNameMax {
		return "", unix.ERANGE
	}
	return name, 0
}

// xattrFd returns the inode and credentials for an fd-form xattr call, or
// ok false when the descriptor is not served (CONTINUE).
func (c *call) xattrFd() (fsimpl.Ino, *taskCred, bool) {
	ino, served := c.fdIno(c.fdArg(0))
	if !served {
		return 0, nil, false
	}
	cr, e := c.credentials()
	if e != 0 {
		return 0, nil, false
	}
	return ino, cr, true
}

// putSized writes v to the target's buffer at addr of size bytes, with
// getxattr(2)'s size rules: size 0 asks for the length, a buffer too small
// is ERANGE.
func (c *call) putSized(v []byte, addr, size uint64) result {
	if size == 0 {
		return ok(int64(len(v)))
	}
	if uint64(len(v)) > size {
		return fail(unix.ERANGE)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	if len(v) > 0 {
		if e := writeMem(c.tid, addr, v); e != 0 {
			return fail(unix.EFAULT)
		}
	}
	return ok(int64(len(v)))
}

// fgetxattr(fd, name, value, size) (fs/xattr.c:do_getxattr()).
func (c *call) fgetxattr() result {
	ino, cr, served := c.xattrFd()
	if !served {
		return cont()
	}
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	v, e := c.s.fs.GetXattr(&cr.fs, ino, name)
	if e != 0 {
		return fail(e)
	}
	size := c.arg(3)
	if size > xattrSizeMax {
		size = xattrSizeMax
	}
	return c.putSized(v, c.arg(2), size)
}

// flistxattr(fd, list, size) (fs/xattr.c:listxattr()).
func (c *call) flistxattr() result {
	ino, cr, served := c.xattrFd()
	if !served {
		return cont()
	}
	names, e := c.s.fs.ListXattr(&cr.fs, ino)
	if e != 0 {
		return fail(e)
	}
	var list bytes.Buffer
	for _, n := range names {
		list.WriteString(n)
		list.WriteByte(0)
	}
	size := c.arg(2)
	if size > xattrListMax {
		size = xattrListMax
	}
	return c.putSized(list.Bytes(), c.arg(1), size)
}

// fsetxattr(fd, name, value, size, flags) (fs/xattr.c:setxattr_copy(),
// whose checks come in this order: flags, name, size).
func (c *call) fsetxattr() result {
	ino, cr, served := c.xattrFd()
	if !served {
		return cont()
	}
	flags := c.intArg(4)
	if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return fail(unix.EINVAL)
	}
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	size := c.arg(3)
	if size > xattrSizeMax {
		return fail(unix.E2BIG)
	}
	v := make([]byte, size)
	if size > 0 {
		if n, e := readMem(c.tid, c.arg(2), v); e != 0 || uint64(n) != size {
			return fail(unix.EFAULT)
		}
	}
	return c.change(func() unix.Errno { return c.s.fs.SetXattr(&cr.fs, ino, name, v, flags) })
}

// fremovexattr(fd, name).
func (c *call) fremovexattr() result {
	ino, cr, served := c.xattrFd()
	if !served {
		return cont()
	}
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	return c.change(func() unix.Errno { return c.s.fs.RemoveXattr(&cr.fs, ino, name) })
}
