package supervisor

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// The xattr calls, by path and on a served descriptor, answered from
// fsimpl. On a served descriptor CONTINUE would set and read xattrs on the
// backing file, where neither door looks (and let a POSIX ACL change its
// mode). A descriptor that is not served goes to the kernel. Each call
// copies its arguments (name, value) before it walks the path, as
// fs/xattr.c does.

// xattrOn is what an xattr call works on: a path (at) or the inode of a
// served descriptor (ino, with cred).
type xattrOn struct {
	at   *fsimpl.At
	ino  fsimpl.Ino
	cred *fsimpl.Cred
}

// xattrFdOn is the target of an fd-form call, or ok false when the
// descriptor is not served (CONTINUE).
func (c *call) xattrFdOn() (xattrOn, bool) {
	ino, served := c.fdIno(c.fdArg(0))
	if !served {
		return xattrOn{}, false
	}
	cr, e := c.credentials()
	if e != 0 {
		return xattrOn{}, false
	}
	return xattrOn{ino: ino, cred: &cr.fs}, true
}

// xattrName reads the name argument at addr as fs/xattr.c:import_xattr_name()
// does: empty or longer than XATTR_NAME_MAX is ERANGE. It is not a path,
// so the observer does not get it as one.
func (c *call) xattrName(addr uint64) (string, unix.Errno) {
	return XattrName(c.tid, addr, c.buf[:])
}

// XattrName reads the xattr name argument of thread tid at addr, with
// buf (PATH_MAX bytes) as scratch, as fs/xattr.c:import_xattr_name()
// does: for every lane's xattr calls.
func XattrName(tid int, addr uint64, buf []byte) (string, unix.Errno) {
	name, e := readString(tid, addr, buf)
	if e == unix.ENAMETOOLONG {
		return "", unix.ERANGE
	}
	if e != 0 {
		return "", e
	}
	if name == "" || len(name) > fsimpl.XattrNameMax {
		return "", unix.ERANGE
	}
	return name, 0
}

// putSized writes v to the target's buffer at addr of size bytes, with
// getxattr(2)'s size rules: size 0 asks for the length, a buffer too small
// is ERANGE.
func (c *call) putSized(v []byte, addr, size uint64) result {
	if size != 0 && uint64(len(v)) <= size && !c.valid() {
		return fail(unix.ENOENT)
	}
	n, e := PutSized(c.tid, v, addr, size)
	if e != 0 {
		return fail(e)
	}
	return ok(n)
}

// PutSized writes v to thread tid's buffer at addr of size bytes with
// getxattr(2)'s size rules (size 0 asks for the length, a buffer too
// small is ERANGE) and returns the length: for every lane's xattr calls.
func PutSized(tid int, v []byte, addr, size uint64) (int64, unix.Errno) {
	if size == 0 {
		return int64(len(v)), 0
	}
	if uint64(len(v)) > size {
		return 0, unix.ERANGE
	}
	if len(v) > 0 {
		if e := writeMem(tid, addr, v); e != 0 {
			return 0, unix.EFAULT
		}
	}
	return int64(len(v)), 0
}

// getxattr serves getxattr, lgetxattr (fs/xattr.c:path_getxattrat()) and
// fgetxattr: name, then the walk, then the value's size rules.
func (c *call) getxattr(on xattrOn, name string) result {
	var v []byte
	var e unix.Errno
	if on.at != nil {
		v, e = c.s.fs.GetXattrAt(on.at, name)
	} else {
		v, e = c.s.fs.GetXattr(on.cred, on.ino, name)
	}
	if e != 0 {
		return fromErrno(e)
	}
	return c.putSized(v, c.arg(2), min(c.arg(3), fsimpl.XattrSizeMax))
}

// listxattr serves listxattr, llistxattr and flistxattr
// (fs/xattr.c:listxattr()).
func (c *call) listxattr(on xattrOn) result {
	var names []string
	var e unix.Errno
	if on.at != nil {
		names, e = c.s.fs.ListXattrAt(on.at)
	} else {
		names, e = c.s.fs.ListXattr(on.cred, on.ino)
	}
	if e != 0 {
		return fromErrno(e)
	}
	return c.putSized(XattrList(names), c.arg(1), min(c.arg(2), fsimpl.XattrListMax))
}

// setxattrArgs copies setxattr's arguments as fs/xattr.c:setxattr_copy()
// does, in its order: flags, name, size, value.
func (c *call) setxattrArgs() (string, []byte, int, unix.Errno) {
	return SetxattrArgs(c.tid, c.buf[:], c.arg(1), c.arg(2), c.arg(3), c.intArg(4))
}

// SetxattrArgs copies the arguments of thread tid's setxattr (name at
// nameAddr, size bytes of value at valueAddr, flags) as
// fs/xattr.c:setxattr_copy() does, in its order: flags, name, size,
// value; buf is XattrName's scratch. For every lane's setxattr.
func SetxattrArgs(tid int, buf []byte, nameAddr, valueAddr, size uint64, flags int) (string, []byte, int, unix.Errno) {
	if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return "", nil, 0, unix.EINVAL
	}
	name, e := XattrName(tid, nameAddr, buf)
	if e != 0 {
		return "", nil, 0, e
	}
	if size > fsimpl.XattrSizeMax {
		return "", nil, 0, unix.E2BIG
	}
	v := make([]byte, size)
	if size > 0 {
		if n, e := readMem(tid, valueAddr, v); e != 0 || uint64(n) != size {
			return "", nil, 0, unix.EFAULT
		}
	}
	return name, v, flags, 0
}

// XattrList is the list flistxattr returns for names: each followed by
// a NUL (fs/xattr.c:listxattr()).
func XattrList(names []string) []byte {
	var list bytes.Buffer
	for _, n := range names {
		list.WriteString(n)
		list.WriteByte(0)
	}
	return list.Bytes()
}

// setxattr serves setxattr, lsetxattr and fsetxattr.
func (c *call) setxattr(on xattrOn, name string, v []byte, flags int) result {
	return c.change(func() unix.Errno {
		if on.at != nil {
			return c.s.fs.SetXattrAt(on.at, name, v, flags)
		}
		return c.s.fs.SetXattr(on.cred, on.ino, name, v, flags)
	})
}

// removexattr serves removexattr, lremovexattr and fremovexattr.
func (c *call) removexattr(on xattrOn, name string) result {
	return c.change(func() unix.Errno {
		if on.at != nil {
			return c.s.fs.RemoveXattrAt(on.at, name)
		}
		return c.s.fs.RemoveXattr(on.cred, on.ino, name)
	})
}

// The path forms: arguments first, then the walk. follow is atFollow for
// the forms without the l prefix.

func (c *call) pathGetxattr(follow int) result {
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	at, r, ok := c.at(unix.AT_FDCWD, c.arg(0), follow)
	if !ok {
		return r
	}
	return c.getxattr(xattrOn{at: at}, name)
}

func (c *call) pathListxattr(follow int) result {
	at, r, ok := c.at(unix.AT_FDCWD, c.arg(0), follow)
	if !ok {
		return r
	}
	return c.listxattr(xattrOn{at: at})
}

func (c *call) pathSetxattr(follow int) result {
	name, v, flags, e := c.setxattrArgs()
	if e != 0 {
		return fail(e)
	}
	at, r, ok := c.at(unix.AT_FDCWD, c.arg(0), follow)
	if !ok {
		return r
	}
	return c.setxattr(xattrOn{at: at}, name, v, flags)
}

func (c *call) pathRemovexattr(follow int) result {
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	at, r, ok := c.at(unix.AT_FDCWD, c.arg(0), follow)
	if !ok {
		return r
	}
	return c.removexattr(xattrOn{at: at}, name)
}

// The fd forms: a descriptor that is not served goes to the kernel before
// anything else is looked at (EBADF and the rest are its answers).

func (c *call) fgetxattr() result {
	on, served := c.xattrFdOn()
	if !served {
		return cont()
	}
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	return c.getxattr(on, name)
}

func (c *call) flistxattr() result {
	on, served := c.xattrFdOn()
	if !served {
		return cont()
	}
	return c.listxattr(on)
}

func (c *call) fsetxattr() result {
	on, served := c.xattrFdOn()
	if !served {
		return cont()
	}
	name, v, flags, e := c.setxattrArgs()
	if e != 0 {
		return fail(e)
	}
	return c.setxattr(on, name, v, flags)
}

func (c *call) fremovexattr() result {
	on, served := c.xattrFdOn()
	if !served {
		return cont()
	}
	name, e := c.xattrName(c.arg(1))
	if e != 0 {
		return fail(e)
	}
	return c.removexattr(on, name)
}
