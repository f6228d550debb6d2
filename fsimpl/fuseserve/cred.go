package fuseserve

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
)

// A FUSE request carries the fsuid, fsgid and thread id of its caller,
// nothing else. The mount has default_permissions: the kernel has already
// made every permission check of the call with the caller's real
// credentials, capabilities and user namespace (generic_permission,
// may_delete, setattr_prepare, xattr_permission, vfs_mknod, ...) before
// the request is sent, and has already stripped setgid from a chmod or a
// new file where in_group_or_capable() says so. fsimpl checks again; the
// credential it gets decides only where the kernel leaves the rule to the
// server:
//
//   - killing setuid/setgid on a write, truncation or O_TRUNC open
//     (HANDLE_KILLPRIV_V2): the kernel sends a kill flag exactly when the
//     caller lacks CAP_FSETID (capable(), the initial namespace), so a
//     request with the flag has CAP_FSETID taken away (withoutFsetid);
//   - which setgid bit a chown drops (setattr_should_drop_sgid(): the
//     caller's groups and CAP_FSETID): the kernel drops ATTR_MODE from the
//     SETATTR and leaves it to the server;
//   - whether LISTXATTR shows trusted.* names (simple_xattr_list():
//     CAP_SYS_ADMIN in the initial namespace).
//
// So credOf, used for every request, reads /proc/TID/status only for a
// caller other than uid 0, which needs its supplementary groups read
// anyway, and takes its capabilities from the same read; uid 0 gets
// AllCaps without a read, which the kernel's own checks make safe for all
// but the two decisions above. Those are rare requests (LISTXATTR, SETATTR
// with an owner or group) and use fullCredOf, which reads uid 0's status
// too.
//
// A caller in another user namespace (a container) has CapEff relative to
// that namespace. The capabilities fsimpl uses only in the initial
// namespace (CAP_SYS_ADMIN for trusted.*, CAP_MKNOD) are dropped for it;
// the others are kept as the kernel's capable_wrt_inode_uidgid() already
// checked them, except for the chown setgid decision, where the kernel
// also asks that the file's owner and group be mapped into the caller's
// namespace, which this door does not read (uid_map): the setgid bit
// survives a chown there as if they were. Nothing is cached: a process may
// change its credentials between two requests and a pid may be reused.

// credOf builds the credential of the caller of a request (see above).
func credOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid, Caps: fsimpl.AllCaps, Door: fsimpl.DoorFUSE}
	if h.Uid != 0 && h.Pid != 0 {
		readCred(c, h.Pid)
	}
	return c
}

// fullCredOf is credOf with the groups and capabilities of uid 0 read too,
// for the decisions the kernel leaves to the server.
func fullCredOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid, Caps: fsimpl.AllCaps, Door: fsimpl.DoorFUSE}
	if h.Pid != 0 {
		readCred(c, h.Pid)
	}
	return c
}

// initialNSCaps are the capabilities fsimpl consults through capable(),
// which only the initial user namespace grants.
const initialNSCaps = fsimpl.CapSysAdmin | fsimpl.CapMknod

// readCred fills in the supplementary groups and capabilities of thread
// tid. When the thread is gone or its status cannot be read, the caller
// gets no groups and no capabilities, which can refuse but never wrongly
// grant.
func readCred(c *fsimpl.Cred, tid uint32) {
	c.Caps = 0
	st, ok := procfs.ReadStatus(int(tid))
	if !ok {
		return
	}
	c.Groups = st.Groups
	c.Caps = fsimpl.Caps(st.CapEff) & fsimpl.AllCaps
	if c.Caps != 0 && !procfs.SameUserNS(int(tid)) {
		c.Caps &^= initialNSCaps
	}
}

// withoutFsetid is c for a request with a kill flag: the kernel found
// that the caller lacks CAP_FSETID.
func withoutFsetid(c *fsimpl.Cred) *fsimpl.Cred {
	c.Caps &^= fsimpl.CapFsetid
	return c
}
