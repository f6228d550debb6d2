package supervisor

import (
	"bytes"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
)

// Data faults (short=, corrupt=, enospc=) move the data themselves: the
// supervisor takes a copy of the target's descriptor (pidfd_getfd), so
// that the file offset, O_APPEND and the open file's state are the
// target's own, does the read or write with the fault applied, and answers
// with the count.

// maxFaultIO bounds the bytes one faulted call moves; a larger call gets a
// short count, which read and write may return for any file.
const maxFaultIO = 8 << 20

// maxIov is the kernel's UIO_MAXIOV.
const maxIov = 1024

func isWrite(nr int32) bool {
	return nr == unix.SYS_WRITE || nr == unix.SYS_PWRITE64 || nr == unix.SYS_WRITEV
}

func isRead(nr int32) bool {
	return nr == unix.SYS_READ || nr == unix.SYS_PREAD64 || nr == unix.SYS_READV
}

// iovecs returns the target's buffers of a read or write call.
func (c *call) iovecs(nr int32) ([]unix.RemoteIovec, unix.Errno) {
	switch nr {
	case unix.SYS_READV, unix.SYS_WRITEV:
		n := c.intArg(2)
		if n < 0 || n > maxIov {
			return nil, unix.EINVAL
		}
		raw := make([]byte, 16*n)
		if got, e := readMem(c.tid, c.arg(1), raw); e != 0 || got != len(raw) {
			return nil, unix.EFAULT
		}
		out := make([]unix.RemoteIovec, 0, n)
		for i := 0; i < n; i++ {
			base := *(*uint64)(unsafe.Pointer(&raw[16*i]))
			l := *(*uint64)(unsafe.Pointer(&raw[16*i+8]))
			if l > 1<<62 {
				return nil, unix.EINVAL
			}
			if l > 0 {
				out = append(out, unix.RemoteIovec{Base: uintptr(base), Len: int(l)})
			}
		}
		return out, 0
	}
	return []unix.RemoteIovec{{Base: uintptr(c.arg(1)), Len: int(min(c.arg(2), 1<<62))}}, 0
}

// ioLen is the number of bytes a read or write call asks for.
func (c *call) ioLen(nr int32) int64 {
	iov, e := c.iovecs(nr)
	if e != 0 {
		return 0
	}
	var n int64
	for _, v := range iov {
		n += int64(v.Len)
	}
	return n
}

// filePos is where a write call starts: its offset argument, the end of
// the file under O_APPEND, else the descriptor's position (from
// /proc/TID/fdinfo); -1 when unknown.
func (c *call) filePos(nr int32) int64 {
	if nr == unix.SYS_PWRITE64 {
		return int64(c.arg(3))
	}
	fd := itoa(c.intArg(0))
	b, err := os.ReadFile(procPath(c.tid, "fdinfo/"+fd))
	if err != nil {
		return -1
	}
	pos, flags := int64(-1), int64(0)
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("pos:")); ok {
			pos, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			flags, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 8, 64)
		}
	}
	if flags&unix.O_APPEND != 0 {
		var st unix.Stat_t
		if unix.Stat(procPath(c.tid, "fd/"+fd), &st) != nil {
			return -1
		}
		return st.Size
	}
	return pos
}

// targetFd takes a copy of the target's descriptor fd.
func (c *call) targetFd(fd int) (int, unix.Errno) {
	pidfd, err := unix.PidfdOpen(c.tid, unix.PIDFD_THREAD)
	if err != nil {
		return -1, err.(unix.Errno)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, err.(unix.Errno)
	}
	return nfd, 0
}

// dataFault performs a read or write call with short=, corrupt= or
// enospc= applied.
func (c *call) dataFault(row *sysRow, f *faults.Fault) result {
	nr := row.nr
	if !isRead(nr) && !isWrite(nr) {
		return answer(c)
	}
	iov, e := c.iovecs(nr)
	if e != 0 {
		return cont() // the kernel reports the bad argument
	}
	var want int64
	for _, v := range iov {
		want += int64(v.Len)
	}
	limit := min(want, maxFaultIO)
	if f.Short > 0 {
		limit = min(limit, f.Short)
	}
	if f.ENOSPC >= 0 {
		pos := c.filePos(nr)
		if pos < 0 {
			return cont()
		}
		if pos >= f.ENOSPC {
			c.faultKind = event.FaultENOSPC
			return fail(unix.ENOSPC)
		}
		limit = min(limit, f.ENOSPC-pos)
	}
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	fd, e := c.targetFd(c.intArg(0))
	if e != 0 {
		return cont()
	}
	defer unix.Close(fd)
	buf := make([]byte, limit)
	remote := clipIov(iov, limit)
	var n int
	var err error
	if isWrite(nr) {
		got, rerr := unix.ProcessVMReadv(c.tid, []unix.Iovec{iovOf(buf)}, remote, 0)
		if rerr != nil && got <= 0 {
			return fail(unix.EFAULT)
		}
		buf = buf[:got]
		c.corrupt(f, buf)
		if nr == unix.SYS_PWRITE64 {
			n, err = unix.Pwrite(fd, buf, int64(c.arg(3)))
		} else {
			n, err = unix.Write(fd, buf)
		}
	} else {
		if nr == unix.SYS_PREAD64 {
			n, err = unix.Pread(fd, buf, int64(c.arg(3)))
		} else {
			n, err = unix.Read(fd, buf)
		}
		if err == nil && n > 0 {
			c.corrupt(f, buf[:n])
			if _, werr := unix.ProcessVMWritev(c.tid, []unix.Iovec{iovOf(buf[:n])}, clipIov(iov, int64(n)), 0); werr != nil {
				return fail(unix.EFAULT)
			}
		}
	}
	if err != nil {
		return fail(err.(unix.Errno))
	}
	switch {
	case f.Corrupt > 0:
		c.faultKind = event.FaultCorrupt
		c.faultVal = int64(min(f.Corrupt, n))
	case f.ENOSPC >= 0:
		c.faultKind, c.faultVal = event.FaultENOSPC, int64(n)
	default:
		c.faultKind, c.faultVal = event.FaultShort, int64(n)
	}
	return ok(int64(n))
}

// corrupt flips every bit of f.Corrupt bytes of buf, at places drawn from
// the fault.
func (c *call) corrupt(f *faults.Fault, buf []byte) {
	for _, p := range faults.Positions(f.Rand, f.Corrupt, len(buf)) {
		buf[p] ^= 0xff
	}
}

func iovOf(b []byte) unix.Iovec {
	v := unix.Iovec{Len: uint64(len(b))}
	if len(b) > 0 {
		v.Base = &b[0]
	}
	return v
}

// clipIov returns the first n bytes of iov.
func clipIov(iov []unix.RemoteIovec, n int64) []unix.RemoteIovec {
	var out []unix.RemoteIovec
	for _, v := range iov {
		if n <= 0 {
			break
		}
		if int64(v.Len) > n {
			v.Len = int(n)
		}
		out = append(out, v)
		n -= int64(v.Len)
	}
	return out
}
