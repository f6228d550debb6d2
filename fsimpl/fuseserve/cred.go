package fuseserve

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
)

// credOf builds the credential of the caller of a request: the kernel sends
// the fsuid and fsgid of the calling thread, and supplementary groups are
// read from /proc/TID/status (the kernel's Caller.Pid is the thread id in
// this server's pid namespace). Nothing is cached: a process may change its
// groups between two requests and a pid may be reused. UID 0 needs no groups
// (fsimpl treats it as holding the capabilities that make them moot), nor
// does a request the kernel makes on its own (Pid 0).
func credOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid, Door: fsimpl.DoorFUSE}
	if h.Uid != 0 && h.Pid != 0 {
		c.Groups = procGroups(h.Pid)
	}
	return c
}

// procGroups returns the supplementary groups of thread tid, or nil when the
// thread is gone or its status cannot be read (the caller then gets only its
// primary group, which can refuse but never wrongly grant group access).
func procGroups(tid uint32) []uint32 {
	st, ok := procfs.ReadStatus(int(tid))
	if !ok {
		return nil
	}
	return st.Groups
}
