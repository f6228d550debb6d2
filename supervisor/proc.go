package supervisor

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
)

// pathMax is PATH_MAX, counting the terminating NUL.
const pathMax = 4096

// readString reads the NUL-terminated string at addr of process tid, page
// by page so that a string ending just before an unmapped page is read
// whole. A bad pointer is EFAULT; no NUL within PATH_MAX bytes is
// ENAMETOOLONG (fs/namei.c:getname_flags()).
func readString(tid int, addr uint64, buf []byte) (string, unix.Errno) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	got := 0
	for got < pathMax {
		chunk := 4096 - int((addr+uint64(got))%4096)
		if chunk > pathMax-got {
			chunk = pathMax - got
		}
		n, e := readMem(tid, addr+uint64(got), buf[got:got+chunk])
		if n <= 0 {
			if e == 0 || e == unix.EIO {
				e = unix.EFAULT
			}
			return "", e
		}
		if i := bytes.IndexByte(buf[got:got+n], 0); i >= 0 {
			return string(buf[:got+i]), 0
		}
		got += n
	}
	return "", unix.ENAMETOOLONG
}

// procPath builds /proc/TID/rest without fmt.
func procPath(tid int, rest string) string {
	var b [64]byte
	p := append(b[:0], "/proc/"...)
	p = strconv.AppendInt(p, int64(tid), 10)
	p = append(p, '/')
	return string(p) + rest
}

// readlink returns the target of a /proc magic link.
func readlink(path string) (string, bool) {
	var buf [pathMax]byte
	n, err := unix.Readlink(path, buf[:])
	if err != nil || n <= 0 || n >= len(buf) {
		return "", false
	}
	return string(buf[:n]), true
}

// taskCred is what the handlers need from /proc/TID/status.
type taskCred struct {
	// fsuid, fsgid, groups and effective capabilities: for permission
	// checks.
	fs   fsimpl.Cred
	ruid uint32 // real ids: access(2) checks with these
	rgid uint32
	// capPrm are the permitted capabilities, which access(2) uses for a
	// real uid 0.
	capPrm fsimpl.Caps
	// ids are the real, effective and saved uids, then gids, for the
	// FUSE mount's allow_other rule (fuseAdmission.admits).
	ids   [6]uint32
	umask uint32
	tgid  int
	// foreign: the thread is in another user namespace than the
	// supervisor. Its ids and capabilities then mean what the kernel
	// maps them to (capable_wrt_inode_uidgid() asks whether a file's
	// owner is mapped there), which fsimpl does not do: its path calls
	// are CONTINUEd to the FUSE mount, and fs carries no capabilities.
	foreign bool
}

// readCred reads the credentials and umask of thread tid (the cache in
// cred.go decides when that is needed).
func readCred(tid int) (*taskCred, unix.Errno) {
	st, ok := procfs.ReadStatus(tid)
	if !ok {
		return nil, unix.ESRCH
	}
	cr := &taskCred{
		fs: fsimpl.Cred{UID: st.FSUID, GID: st.FSGID, Groups: st.Groups,
			Caps: fsimpl.Caps(st.CapEff) & fsimpl.AllCaps, Door: fsimpl.DoorRun},
		ruid:    st.RUID,
		rgid:    st.RGID,
		capPrm:  fsimpl.Caps(st.CapPrm) & fsimpl.AllCaps,
		ids:     [6]uint32{st.RUID, st.EUID, st.SUID, st.RGID, st.EGID, st.SGID},
		umask:   st.Umask,
		tgid:    st.Tgid,
		foreign: !procfs.SameUserNS(tid),
	}
	if cr.foreign {
		cr.fs.Caps, cr.capPrm = 0, 0
	}
	return cr, 0
}

// accessCred is the credential access(2) checks with
// (fs/open.c:access_override_creds()): without AT_EACCESS the real uid and
// gid, with the permitted capabilities for a real uid 0 and none for any
// other.
func (cr *taskCred) accessCred(flags int) *fsimpl.Cred {
	use := cr.fs
	if flags&unix.AT_EACCESS == 0 {
		use.UID, use.GID = cr.ruid, cr.rgid
		use.Caps = 0
		if cr.ruid == 0 {
			use.Caps = cr.capPrm
		}
	}
	return &use
}

// fdTableRoom reports whether thread tid has a descriptor number under
// limit free (its /proc/TID/fd lists the numbers in use), and whether
// process tgid has more than one thread to share that table with. A
// thread that is gone is ESRCH.
func fdTableRoom(tid, tgid int, limit uint64) (room, shared bool, e unix.Errno) {
	used, e := procDirNames(procPath(tid, "fd"))
	if e != 0 {
		return false, false, e
	}
	var below uint64
	for _, n := range used {
		if fd, err := strconv.ParseUint(n, 10, 63); err == nil && fd < limit {
			below++
		}
	}
	if below >= limit {
		return false, false, 0
	}
	tasks, e := procDirNames(procPath(tgid, "task"))
	if e != 0 {
		return false, false, e
	}
	return true, len(tasks) > 1, 0
}

// procDirNames lists a directory of /proc; a thread that is gone is ESRCH.
func procDirNames(path string) ([]string, unix.Errno) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unix.ESRCH
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, unix.ESRCH
	}
	return names, 0
}
