package fastlane

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/supervisor"
)

// The event ops of the calls the channel answers: the syscalls' own ops,
// which the supervisor registered, so that status shows both lanes of a
// syscall side by side.
var (
	evNewfstatat = eventOp("newfstatat")
	evStatx      = eventOp("statx")
	evFaccessat2 = eventOp("faccessat2")
	evReadlinkat = eventOp("readlinkat")
	evOpenat     = eventOp("openat")
	evMkdirat    = eventOp("mkdirat")
	evUnlinkat   = eventOp("unlinkat")
	evRenameat2  = eventOp("renameat2")
	evFstat      = eventOp("fstat")
	evLinkat     = eventOp("linkat")
)

// opSys are the syscalls the requests stand for, as fault rules name them.
var opSys = [...]faults.Sys{
	opNewfstatat: faults.SyscallID("newfstatat"), opStatx: faults.SyscallID("statx"),
	opFaccessat2: faults.SyscallID("faccessat2"), opReadlinkat: faults.SyscallID("readlinkat"),
	opOpenat: faults.SyscallID("openat"), opMkdirat: faults.SyscallID("mkdirat"),
	opUnlinkat: faults.SyscallID("unlinkat"), opRenameat2: faults.SyscallID("renameat2"),
	opFstat: faults.SyscallID("fstat"), opRelease: faults.NoSys, opLinkat: faults.SyscallID("linkat"),
}

func eventOp(name string) event.Op {
	if o, ok := event.Lookup(name); ok {
		return o
	}
	return event.OpSyscall
}

// serveSlot answers the request in the slot at b and returns its result.
// While a fault rule applies to every process, a call only the kernel
// can answer passes to the seccomp lane instead (Kernel would send it
// from the trampoline, where no rule sees it; the seccomp lane matches it
// against the rules and then CONTINUEs it to the same FUSE mount).
func (ss *session) serveSlot(b int) int64 {
	r := ss.serveRequest(b)
	if r == Kernel && ss.s.faultsLive.Load() {
		return Pass
	}
	return r
}

// serveRequest is serveSlot's answer. Everything in the slot was written
// by the process: each field is read once and bounded here.
func (ss *session) serveRequest(b int) int64 {
	start := time.Now()
	seg := ss.seg
	seg.store(b+slotOutLen, 0)
	seg.putU64(b+slotOutIno, 0)
	// The Files the library closed since this slot's last request
	// (fl_close queues them here rather than asking at once).
	if n := min(seg.load(b+slotNRel), MaxRel); n > 0 {
		for i := range int(n) {
			ss.releaseFile(seg.getU64(b + slotRel + 8*i))
		}
		seg.store(b+slotNRel, 0)
	}
	tid := int(int32(seg.load(b + slotTid)))
	op := seg.load(b + slotOp)
	if tid <= 0 || op == 0 {
		return Pass
	}
	if r, ok := ss.serveFd(b, tid, op, start); ok {
		return r
	}
	if int(op) >= len(opSys) {
		return Pass
	}
	// A call that a fault rule names goes to the seccomp lane, where the
	// rules are applied: the channel never answers past a rule.
	if ss.s.faults.Wants(opSys[op]) {
		return Pass
	}
	switch op {
	case opFstat:
		r := ss.fstat(b, tid)
		ss.observe(evFstat, tid, "", r, start)
		return r
	case opRelease:
		ss.releaseFile(seg.getU64(b + slotLen))
		return 0
	}
	path, ok := seg.cstring(b+slotPath1, PathBytes)
	if !ok {
		return Pass
	}
	var r int64
	var ev event.Op
	switch op {
	case opNewfstatat:
		ev, r = evNewfstatat, ss.newfstatat(b, tid, path)
	case opStatx:
		ev, r = evStatx, ss.statx(b, tid, path)
	case opFaccessat2:
		ev, r = evFaccessat2, ss.faccessat2(b, tid, path)
	case opReadlinkat:
		ev, r = evReadlinkat, ss.readlinkat(b, tid, path)
	case opOpenat:
		ev, r = evOpenat, ss.openat(b, tid, path)
	case opMkdirat:
		ev, r = evMkdirat, ss.mkdirat(b, tid, path)
	case opUnlinkat:
		ev, r = evUnlinkat, ss.unlinkat(b, tid, path)
	case opRenameat2:
		ev, r = evRenameat2, ss.renameat2(b, tid, path)
	case opLinkat:
		ev, r = evLinkat, ss.linkat(b, tid, path)
	default:
		return Pass
	}
	ss.observe(ev, tid, path, r, start)
	return r
}

// observe reports an answered call to the server's observer.
func (ss *session) observe(op event.Op, tid int, path string, r int64, start time.Time) {
	obs := ss.s.obs
	if obs == nil {
		return
	}
	e := event.Event{Op: op, Door: event.DoorFast, Outcome: event.Served, Tgid: int32(ss.tgid), Tid: int32(tid),
		Path: path, Latency: time.Since(start)}
	switch {
	case r == Pass || r == Kernel:
		e.Outcome = event.Passthrough
	case r < 0:
		e.Outcome, e.Errno = event.Error, unix.Errno(-r)
	}
	obs.Observe(e)
}

// at resolves a path of the request in slot b, by thread tid, as the
// seccomp lane does, into the worker's scratch At i. ok false: pass. A
// thread of another process than the handshaked one (a vfork child, a
// forged TID) passes too.
func (ss *session) at(i, b, tid int, dirfd int32, path string, follow bool) (*fsimpl.At, supervisor.Thread, bool) {
	f := 0
	if follow {
		f = fsimpl.AtFollow
	}
	th, ok := ss.thread(b, tid)
	if !ok {
		return nil, supervisor.Thread{}, false
	}
	at := &ss.ats[i]
	if !ss.s.sup.LaneAtAs(th, tid, dirfd, path, f, at) {
		return nil, supervisor.Thread{}, false
	}
	return at, th, true
}

// result is the slot's result for an fsimpl errno.
func result(e unix.Errno) int64 {
	switch e {
	case 0:
		return 0
	case fsimpl.StepAside:
		return Kernel
	}
	return -int64(e)
}

// reply copies data into the slot's out area.
func (ss *session) reply(b int, data []byte) {
	n := copy(ss.seg.mem[b+slotOut:b+slotOut+OutBytes], data)
	ss.seg.store(b+slotOutLen, uint32(n))
}

// statAttr walks the path of the request in slot b as the stat family
// does with flags and returns its attributes; without them (ok false), r
// is the call's result.
func (ss *session) statAttr(b, tid int, path string, flags int) (a fsimpl.Attr, r int64, ok bool) {
	at, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return a, Pass, false
	}
	a, e := ss.s.fs.StatAt(at)
	if e != 0 {
		return a, result(e), false
	}
	return a, 0, true
}

// newfstatat mirrors the seccomp lane's stat (fs/stat.c:vfs_statx()).
func (ss *session) newfstatat(b, tid int, path string) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if e := supervisor.StatArgsErr(flags); e != 0 {
		return result(e)
	}
	a, r, ok := ss.statAttr(b, tid, path, flags)
	if !ok {
		return r
	}
	st := ss.s.sup.StatOf(&a)
	ss.reply(b, bytesOf(&st))
	return 0
}

// statx mirrors the seccomp lane's statx.
func (ss *session) statx(b, tid int, path string) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if e := supervisor.StatxArgsErr(flags, ss.seg.load(b+slotMask)); e != 0 {
		return result(e)
	}
	a, r, ok := ss.statAttr(b, tid, path, flags)
	if !ok {
		return r
	}
	stx := ss.s.sup.StatxOf(&a)
	ss.reply(b, bytesOf(&stx))
	return 0
}

// faccessat2 mirrors the seccomp lane's access (fs/open.c:do_faccessat():
// the real ids unless AT_EACCESS).
func (ss *session) faccessat2(b, tid int, path string) int64 {
	mode := ss.seg.load(b + slotMode)
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if e := supervisor.AccessArgsErr(mode, flags); e != 0 {
		return result(e)
	}
	at, th, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if !ok {
		return Pass
	}
	at.Cred = th.AccessCred(flags)
	return result(ss.s.fs.AccessAt(at, mode))
}

// readlinkat mirrors the seccomp lane's readlink.
func (ss *session) readlinkat(b, tid int, path string) int64 {
	size := int64(ss.seg.getU64(b + slotLen))
	if size <= 0 {
		return -int64(unix.EINVAL)
	}
	at, _, ok := ss.at(0, b, tid, int32(ss.seg.load(b+slotDirfd)), path, false)
	if !ok {
		return Pass
	}
	t, e := ss.s.fs.ReadlinkAt(at)
	if e != 0 {
		return result(e)
	}
	if int64(len(t)) > size {
		t = t[:size]
	}
	if len(t) > OutBytes {
		return Pass
	}
	ss.reply(b, []byte(t))
	return int64(len(t))
}
