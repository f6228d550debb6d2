package fsimpl

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's limits on xattrs (include/uapi/linux/limits.h), which its
// syscalls apply as they copy their arguments.
const (
	XattrNameMax = 255   // XATTR_NAME_MAX
	XattrSizeMax = 65536 // XATTR_SIZE_MAX
	XattrListMax = 65536 // XATTR_LIST_MAX

	xattrNameMax = XattrNameMax
	xattrSizeMax = XattrSizeMax
	userPrefix   = "user."
	trustedPfx   = "trusted."
)

// xattrNamespace classifies name: the namespaces fsimpl stores (user.*,
// trusted.*), those the VFS lets through without checks but fsimpl does not
// support (security.*, system.*), and anything else.
type xattrNS int

const (
	nsOther xattrNS = iota
	nsUser
	nsTrusted
	nsUnchecked // security.*, system.*
)

func xattrNamespace(name string) xattrNS {
	switch {
	case strings.HasPrefix(name, userPrefix):
		return nsUser
	case strings.HasPrefix(name, trustedPfx):
		return nsTrusted
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "system."):
		return nsUnchecked
	}
	return nsOther
}

// checkXattrName mirrors the syscall-side copy of the name
// (fs/xattr.c:import_xattr_name): empty or longer than XATTR_NAME_MAX is
// ERANGE.
func checkXattrName(name string) unix.Errno {
	if name == "" || len(name) > xattrNameMax || strings.IndexByte(name, 0) >= 0 {
		return unix.ERANGE
	}
	return 0
}

// xattrPermissionLocked mirrors fs/xattr.c:xattr_permission() and then the
// handler lookup of fs/xattr.c:xattr_resolve_name() (EOPNOTSUPP for an
// unsupported namespace, EINVAL for a bare prefix). mask is mayRead or
// mayWrite.
//
// Preconditions: fs.mu is held.
func xattrPermissionLocked(c *Cred, n *inode, name string, mask uint32) unix.Errno {
	ns := xattrNamespace(name)
	denied := unix.ENODATA
	if mask&mayWrite != 0 {
		denied = unix.EPERM
	}
	switch ns {
	case nsUnchecked:
		return unix.EOPNOTSUPP
	case nsTrusted:
		if !c.capable(CapSysAdmin) {
			return denied
		}
	case nsUser:
		if !n.isReg() && !n.isDir() {
			return denied
		}
		if n.isDir() && n.mode&unix.S_ISVTX != 0 && mask&mayWrite != 0 && !ownerOrCapableLocked(c, n) {
			return unix.EPERM
		}
	}
	if ns != nsTrusted {
		if e := permissionLocked(c, n, mask); e != 0 {
			return e
		}
	}
	switch {
	case ns == nsOther:
		return unix.EOPNOTSUPP
	case name == userPrefix || name == trustedPfx:
		return unix.EINVAL
	}
	return 0
}

// GetXattr returns the whole value of name on ino.
func (fs *FS) GetXattr(c *Cred, ino Ino, name string) ([]byte, unix.Errno) {
	c = cred(c)
	if e := checkXattrName(name); e != 0 {
		return nil, e
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return nil, e
	}
	return getXattrLocked(c, n, name)
}

// getXattrLocked is GetXattr on inode n.
//
// Preconditions: fs.mu is held.
func getXattrLocked(c *Cred, n *inode, name string) ([]byte, unix.Errno) {
	if e := xattrPermissionLocked(c, n, name, mayRead); e != 0 {
		return nil, e
	}
	v, ok := n.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return append([]byte{}, v...), 0
}

// ListXattr returns the names on ino, sorted. trusted.* names are listed
// only to a caller with CAP_SYS_ADMIN (fs/xattr.c:simple_xattr_list).
func (fs *FS) ListXattr(c *Cred, ino Ino) ([]string, unix.Errno) {
	c = cred(c)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return nil, e
	}
	return listXattrLocked(c, n), 0
}

// listXattrLocked is ListXattr on inode n.
//
// Preconditions: fs.mu is held.
func listXattrLocked(c *Cred, n *inode) []string {
	names := make([]string, 0, len(n.xattrs))
	for k := range n.xattrs {
		if xattrNamespace(k) == nsTrusted && !c.capable(CapSysAdmin) {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// SetXattr sets name on ino. XattrCreate fails with EEXIST when the name
// exists, XattrReplace with ENODATA when it does not (fs/xattr.c:
// simple_xattr_set). Values are limited to XATTR_SIZE_MAX (E2BIG).
func (fs *FS) SetXattr(c *Cred, ino Ino, name string, value []byte, flags int) unix.Errno {
	c = cred(c)
	if e := checkSetXattr(name, value, flags); e != 0 {
		return e
	}
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return e
	}
	if e := fs.setXattrLocked(c, n, name, value, flags); e != 0 {
		return e
	}
	ch.add(ChangeAttr, nil, "", n)
	return 0
}

// xattrCost is what an xattr is charged of the inode space
// (fs/xattr.c:simple_xattr_space(), as mm/shmem.c's handler charges it).
func xattrCost(name string, value []byte) uint64 {
	return 40 + uint64(len(name)) + uint64(len(value))
}

// checkSetXattr makes the checks of fs/xattr.c:setxattr_copy(), which come
// before the path walk: flags, name, size.
func checkSetXattr(name string, value []byte, flags int) unix.Errno {
	if flags&^(XattrCreate|XattrReplace) != 0 {
		return unix.EINVAL
	}
	if e := checkXattrName(name); e != 0 {
		return e
	}
	if len(value) > xattrSizeMax {
		return unix.E2BIG
	}
	return 0
}

// setXattrLocked is SetXattr on inode n once its arguments are checked.
// The new value is charged to the inode space before anything else is
// looked at, and a value it replaces is given back after, as
// mm/shmem.c:shmem_xattr_handler_set() does: a full filesystem refuses
// even a replacement with ENOSPC.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) setXattrLocked(c *Cred, n *inode, name string, value []byte, flags int) unix.Errno {
	if e := xattrPermissionLocked(c, n, name, mayWrite); e != 0 {
		return e
	}
	cost := xattrCost(name, value)
	if fs.freeISpaceLocked() < cost {
		return unix.ENOSPC
	}
	old, exists := n.xattrs[name]
	switch {
	case flags&XattrCreate != 0 && exists:
		return unix.EEXIST
	case flags&XattrReplace != 0 && !exists:
		return unix.ENODATA
	}
	if n.xattrs == nil {
		n.xattrs = make(map[string][]byte)
	}
	if exists {
		fs.xattrSpace -= xattrCost(name, old)
	}
	fs.xattrSpace += cost
	n.xattrs[name] = append([]byte{}, value...)
	n.ctime = now()
	fs.viewInoLocked(n)
	return 0
}

// RemoveXattr removes name from ino (ENODATA when absent).
func (fs *FS) RemoveXattr(c *Cred, ino Ino, name string) unix.Errno {
	c = cred(c)
	if e := checkXattrName(name); e != 0 {
		return e
	}
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return e
	}
	if e := fs.removeXattrLocked(c, n, name); e != 0 {
		return e
	}
	ch.add(ChangeAttr, nil, "", n)
	return 0
}

// removeXattrLocked is RemoveXattr on inode n.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) removeXattrLocked(c *Cred, n *inode, name string) unix.Errno {
	if e := xattrPermissionLocked(c, n, name, mayWrite); e != 0 {
		return e
	}
	v, ok := n.xattrs[name]
	if !ok {
		return unix.ENODATA
	}
	fs.xattrSpace -= xattrCost(name, v)
	delete(n.xattrs, name)
	n.ctime = now()
	fs.viewInoLocked(n)
	return 0
}
