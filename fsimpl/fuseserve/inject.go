package fuseserve

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/internal/procfs"
)

// Fault injection on the FUSE door: each request stands for the syscalls
// that make the kernel send it, and a rule (package faults, group 0 only)
// naming any of them applies to it, for every process. The door only
// describes the request (op, path from the path cache, the caller's
// thread from the request header) and delivers: error= fails the request,
// short= and corrupt= change the data of READ and WRITE, enospc= stops a
// WRITE at the size, delays sleep in the request's goroutine, signal= goes
// to the calling thread. retval= has no FUSE reply to replace and is not
// applied here (such a rule still counts as fired). The kernel answers what it caches (entries, attributes,
// and the data of files opened with passthrough) without asking the door;
// a file that a read or write rule may match is therefore opened with
// FOPEN_DIRECT_IO and without passthrough, so every read and write of it
// reaches the door. Paths are known only on an observed door (pathCache).

// opFault is what an op stands for: the syscall it is counted under and
// all the syscalls that send it.
type opFault struct {
	sys faults.Sys
	fam faults.Mask
}

var opFaults [event.NumFUSEOps]opFault

// dataMask: the syscalls whose data the door moves only without
// passthrough.
var dataMask faults.Mask

func init() {
	def := func(op event.Op, names ...string) {
		o := &opFaults[op]
		o.sys = faults.SyscallID(names[0])
		for _, n := range names {
			o.fam.Add(faults.SyscallID(n))
		}
	}
	for i := range opFaults {
		opFaults[i].sys = faults.NoSys
	}
	stat := []string{"stat", "lstat", "newfstatat", "statx", "fstat"}
	def(event.OpLookup, stat...)
	def(event.OpGetAttr, stat...)
	def(event.OpOpen, "openat", "open", "openat2", "creat")
	def(event.OpCreate, "openat", "open", "openat2", "creat")
	def(event.OpRead, "read", "pread64", "readv")
	def(event.OpWrite, "write", "pwrite64", "writev")
	def(event.OpMknod, "mknod", "mknodat")
	def(event.OpMkdir, "mkdir", "mkdirat")
	def(event.OpSymlink, "symlink", "symlinkat")
	def(event.OpLink, "link", "linkat")
	def(event.OpUnlink, "unlink", "unlinkat")
	def(event.OpRmdir, "rmdir", "unlinkat")
	def(event.OpRename, "rename", "renameat", "renameat2")
	def(event.OpReadlink, "readlink", "readlinkat")
	def(event.OpAccess, "access", "faccessat", "faccessat2")
	def(event.OpStatFs, "statfs", "fstatfs")
	def(event.OpGetXattr, "getxattr", "lgetxattr", "fgetxattr")
	def(event.OpListXattr, "listxattr", "llistxattr", "flistxattr")
	def(event.OpSetXattr, "setxattr", "lsetxattr", "fsetxattr")
	def(event.OpRemoveXattr, "removexattr", "lremovexattr", "fremovexattr")
	def(event.OpFsync, "fsync", "fdatasync")
	def(event.OpFallocate, "fallocate")
	def(event.OpLseek, "lseek")
	def(event.OpSetAttr, "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
		"truncate", "ftruncate", "utimensat", "utimes", "utime", "futimesat")
	dataMask.Or(&opFaults[event.OpRead].fam)
	dataMask.Or(&opFaults[event.OpWrite].fam)
}

// faultInfo is the fault injected into one request, with what it did.
type faultInfo struct {
	f    faults.Fault
	kind event.FaultKind
	val  int64
}

// path is the absolute path of q's node (and name), "" when unknown.
func (r *rawFS) path(q *req) string {
	if r.paths == nil {
		return ""
	}
	p := r.paths.get(q.node)
	if p == "" {
		return ""
	}
	if q.name != "" {
		p = join(p, q.name)
	}
	if p == "/" {
		return r.mount
	}
	return r.mount + p
}

// fault asks the rules about q; it returns the fault that fires (after
// its delay_enter and signal), nil for none.
func (r *rawFS) fault(q *req) *faultInfo {
	if r.faults == nil || q.op >= event.NumFUSEOps {
		return nil
	}
	of := &opFaults[q.op]
	if of.sys == faults.NoSys || !r.faults.WantsAny(&of.fam) {
		return nil
	}
	tid := q.tid
	fc := faults.Call{Sys: of.sys, Family: &of.fam, Path: r.path(q), Pid: int(r.tgids.Lookup(tid))}
	fc.Comm = func() string { return procfs.Comm(int(tid)) }
	f, ok := r.faults.Match(&fc)
	if !ok || (f.HasRetval && f.Errno == 0 && f.Signal == 0 && f.DelayEnter == 0 && f.DelayExit == 0) {
		return nil
	}
	fi := &faultInfo{f: f, kind: event.FaultDelay}
	switch {
	case f.Errno != 0:
		fi.kind = event.FaultError
	case f.Signal != 0:
		fi.kind, fi.val = event.FaultSignal, int64(f.Signal)
	}
	q.fault = fi
	if f.DelayEnter > 0 {
		time.Sleep(f.DelayEnter)
	}
	if f.Signal != 0 {
		if tgid := r.tgids.Lookup(tid); tgid > 0 {
			unix.Tgkill(int(tgid), int(tid), f.Signal)
		}
	}
	return fi
}

// failed is the errno a fault makes q fail with, 0 for none.
func (fi *faultInfo) failed() unix.Errno {
	if fi == nil {
		return 0
	}
	return fi.f.Errno
}

// directIO reports whether an open of the file at q must bypass
// passthrough and the page cache, for read or write rules that may
// match it.
func (r *rawFS) directIO(q *req) bool {
	return r.faults != nil && r.faults.WantsAny(&dataMask) && r.faults.MayFault(&dataMask, r.path(q))
}

// shortRead applies a READ's short= to its buffer.
func (fi *faultInfo) shortRead(buf []byte) []byte {
	if fi != nil && fi.f.Short > 0 && int64(len(buf)) > fi.f.Short {
		fi.kind, fi.val = event.FaultShort, fi.f.Short
		return buf[:fi.f.Short]
	}
	return buf
}

// corrupt applies corrupt= to the bytes read or written.
func (fi *faultInfo) corrupt(buf []byte) {
	if fi == nil || fi.f.Corrupt == 0 {
		return
	}
	pos := faults.Positions(fi.f.Rand, fi.f.Corrupt, len(buf))
	for _, p := range pos {
		buf[p] ^= 0xff
	}
	fi.kind, fi.val = event.FaultCorrupt, int64(len(pos))
}

// writeData applies a WRITE's short=, enospc= and corrupt= to data
// written at off; a non-zero errno fails the write.
func (fi *faultInfo) writeData(data []byte, off int64) ([]byte, unix.Errno) {
	if fi == nil {
		return data, 0
	}
	f := &fi.f
	if f.Short > 0 && int64(len(data)) > f.Short {
		data = data[:f.Short]
		fi.kind, fi.val = event.FaultShort, f.Short
	}
	if f.ENOSPC >= 0 {
		if off >= f.ENOSPC {
			fi.kind = event.FaultENOSPC
			return nil, unix.ENOSPC
		}
		if room := f.ENOSPC - off; int64(len(data)) > room {
			data = data[:room]
		}
		fi.kind, fi.val = event.FaultENOSPC, int64(len(data))
	}
	if f.Corrupt > 0 {
		// data lives in the request buffer: flip a copy.
		data = append([]byte(nil), data...)
		fi.corrupt(data)
	}
	return data, 0
}

// event marks ev as injected by the fault.
func (fi *faultInfo) event(ev *event.Event) {
	ev.Outcome = event.Injected
	ev.Rule = uint16(fi.f.Rule)
	ev.Fault = fi.kind
	ev.FaultValue = fi.val
}
