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
//   - killing setuid/setgid (HANDLE_KILLPRIV_V2): on an O_TRUNC open, a
//     write and a truncation the kernel sends a kill flag exactly when the
//     caller lacks CAP_FSETID (capable(), the initial namespace), so such
//     a request has CAP_FSETID taken away (withoutFsetid); a chown always
//     asks for the kill (FATTR_KILL_SUIDGID with the owner or group), and
//     chown(-1, -1) and a write's privilege drop send an empty SETATTR:
//     which setgid bit goes then depends on the caller's groups and
//     CAP_FSETID (setattr_should_drop_sgid());
//   - whether LISTXATTR shows trusted.* names (simple_xattr_list():
//     CAP_SYS_ADMIN in the initial namespace).
//
// So credOf, used for every request, reads /proc/TID/status only for a
// caller other than uid 0, which needs its supplementary groups read
// anyway, and takes its capabilities from the same read; uid 0 gets
// AllCaps without a read, which the kernel's own checks make safe for all
// but the decisions above. Those come with rare requests (LISTXATTR, a
// SETATTR that changes the owner or group or asks for a kill without a
// size) and use fullCredOf, which reads uid 0's status too.
//
// A caller in another user namespace (a container) has CapEff relative to
// that namespace. fullCredOf reads its uid_map and gid_map into Cred.NS,
// so that fsimpl counts a capability over a file only when the file's
// owner and group are mapped there (capable_wrt_inode_uidgid()) and
// counts none that only the initial namespace grants. credOf does not
// read the maps: it drops those initial-namespace capabilities
// (CAP_SYS_ADMIN, CAP_MKNOD) and keeps the others, which only repeat
// checks the kernel has already passed.
//
// Nothing is cached: a process may change its credentials between two
// requests and a pid may be reused.

// credOf builds the credential of the caller of a request (see above).
func credOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid, Caps: fsimpl.AllCaps, Door: fsimpl.DoorFUSE}
	if h.Uid != 0 && h.Pid != 0 {
		readCred(c, h.Pid, false)
	}
	return c
}

// fullCredOf is credOf with the groups and capabilities of uid 0 read too,
// for the decisions the kernel leaves to the server.
func fullCredOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid, Caps: fsimpl.AllCaps, Door: fsimpl.DoorFUSE}
	if h.Pid != 0 {
		readCred(c, h.Pid, true)
	}
	return c
}

// initialNSCaps are the capabilities fsimpl consults through capable(),
// which only the initial user namespace grants (fsimpl itself grants none
// of them to a Cred with NS set).
const initialNSCaps = fsimpl.CapSysAdmin | fsimpl.CapMknod

// readCred fills in the supplementary groups and capabilities of thread
// tid, and with maps the user namespace of a caller outside the daemon's.
// When the thread is gone or its status cannot be read, the caller gets no
// groups and no capabilities, which can refuse but never wrongly grant.
func readCred(c *fsimpl.Cred, tid uint32, maps bool) {
	c.Caps = 0
	st, ok := procfs.ReadStatus(int(tid))
	if !ok {
		return
	}
	c.Groups = st.Groups
	c.Caps = fsimpl.Caps(st.CapEff) & fsimpl.AllCaps
	if c.Caps == 0 || procfs.SameUserNS(int(tid)) {
		return
	}
	if !maps {
		c.Caps &^= initialNSCaps
		return
	}
	c.NS = &fsimpl.UserNS{} // maps nothing unless read
	if uids, gids, ok := procfs.ReadIDMaps(int(tid)); ok {
		c.NS.UIDs, c.NS.GIDs = idRanges(uids), idRanges(gids)
	}
}

func idRanges(ext []procfs.IDExtent) []fsimpl.IDRange {
	out := make([]fsimpl.IDRange, len(ext))
	for i, e := range ext {
		out[i] = fsimpl.IDRange{First: e.Outside, Count: e.Count}
	}
	return out
}

// withoutFsetid is c for a request with a kill flag: the kernel found
// that the caller lacks CAP_FSETID.
func withoutFsetid(c *fsimpl.Cred) *fsimpl.Cred {
	c.Caps &^= fsimpl.CapFsetid
	return c
}
