package supervisor

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
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
	fs    fsimpl.Cred // fsuid, fsgid, groups: for permission checks
	ruid  uint32      // real ids: access(2) checks with these
	rgid  uint32
	umask uint32
	tgid  int
}

// readCred reads the credentials and umask of thread tid. Nothing is
// cached: a thread may change them between two syscalls.
func readCred(tid int) (*taskCred, unix.Errno) {
	var buf [4096]byte
	fd, err := unix.Open(procPath(tid, "status"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, unix.ESRCH
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
	c, ok := parseStatus(buf[:n])
	if !ok {
		return nil, unix.ESRCH
	}
	return c, 0
}

// parseStatus extracts Umask, Uid, Gid and Groups from a status file. Uid
// and Gid list real, effective, saved and filesystem ids.
func parseStatus(b []byte) (*taskCred, bool) {
	c := &taskCred{umask: 0o022}
	seen := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		f := bytes.Fields(val)
		switch string(key) {
		case "Tgid":
			if len(f) == 1 {
				if v, err := strconv.Atoi(string(f[0])); err == nil {
					c.tgid = v
				}
			}
		case "Umask":
			if len(f) == 1 {
				if v, err := strconv.ParseUint(string(f[0]), 8, 32); err == nil {
					c.umask = uint32(v)
				}
			}
		case "Uid", "Gid":
			if len(f) != 4 {
				return nil, false
			}
			r, err1 := strconv.ParseUint(string(f[0]), 10, 32)
			fsid, err2 := strconv.ParseUint(string(f[3]), 10, 32)
			if err1 != nil || err2 != nil {
				return nil, false
			}
			if key[0] == 'U' {
				c.ruid, c.fs.UID = uint32(r), uint32(fsid)
			} else {
				c.rgid, c.fs.GID = uint32(r), uint32(fsid)
			}
			seen++
		case "Groups":
			for _, g := range f {
				if v, err := strconv.ParseUint(string(g), 10, 32); err == nil {
					c.fs.Groups = append(c.fs.Groups, uint32(v))
				}
			}
			seen++
		}
		if seen == 3 {
			break
		}
	}
	return c, seen == 3
}
