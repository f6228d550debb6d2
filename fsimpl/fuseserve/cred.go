package fuseserve

import (
	"bytes"
	"os"
	"strconv"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// credOf builds the credential of the caller of a request: the kernel sends
// the fsuid and fsgid of the calling thread, and supplementary groups are
// read from /proc/TID/status (the kernel's Caller.Pid is the thread id in
// this server's pid namespace). Nothing is cached: a process may change its
// groups between two requests and a pid may be reused. UID 0 needs no groups
// (fsimpl treats it as holding the capabilities that make them moot), nor
// does a request the kernel makes on its own (Pid 0).
func credOf(h *fuse.InHeader) *fsimpl.Cred {
	c := &fsimpl.Cred{UID: h.Uid, GID: h.Gid}
	if h.Uid != 0 && h.Pid != 0 {
		c.Groups = procGroups(h.Pid)
	}
	return c
}

// procGroups returns the supplementary groups of thread tid, or nil when the
// thread is gone or its status cannot be read (the caller then gets only its
// primary group, which can refuse but never wrongly grant group access).
func procGroups(tid uint32) []uint32 {
	var buf [2048]byte
	path := "/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	unix.Close(fd)
	groups, ok := parseGroups(buf[:n])
	if !ok && n == len(buf) {
		// A very long Groups: line (or Name:) ran past the buffer.
		all, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		groups, _ = parseGroups(all)
	}
	return groups
}

// parseGroups finds the "Groups:" line of a /proc status file. ok is false
// when the line is missing or not terminated within b.
func parseGroups(b []byte) (groups []uint32, ok bool) {
	const key = "\nGroups:"
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	line := b[i+len(key):]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		return nil, false
	}
	for _, f := range bytes.Fields(line[:end]) {
		g, err := strconv.ParseUint(string(f), 10, 32)
		if err != nil {
			return nil, false
		}
		groups = append(groups, uint32(g))
	}
	return groups, true
}
