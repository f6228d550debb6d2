package fastlane

import (
	"time"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/supervisor"
)

// The descriptor calls on a file the channel opened. The library opens
// the backing file itself, at an ordinary descriptor number, which the
// seccomp filter does not notify: made natively, fchmod, fchown, the f*xattr
// calls, fstatfs and statx(fd, "", AT_EMPTY_PATH) would change or read the
// backing file, where neither door looks. So the library sends them here
// with the File's id, and they are answered as the seccomp lane answers
// them for its own descriptors (supervisor/fdops.go, xattr.go): the same
// fsimpl operation on the File's inode, with the calling thread's
// credentials; buffers are read and written in the caller's memory, as
// the seccomp lane does, so that EFAULT and the size rules are the
// kernel's.

// The ops, after the path ops (16 on, so that ops added to channel.go's
// list meanwhile keep their numbers). slotLen holds the File's id; the
// arguments that are addresses or sizes are u64s at slotArg0..2.
const (
	opFchmod       = 16 // slotMode: the mode
	opFchown       = 17 // slotMode, slotMask: uid, gid
	opFstatx       = 18 // slotFlags, slotMask: statx's flags and mask; out: struct statx
	opFstatfs      = 19 // out: struct statfs
	opFgetxattr    = 20 // arg0: name, arg1: value, arg2: size
	opFsetxattr    = 21 // arg0: name, arg1: value, arg2: size; slotFlags: flags
	opFlistxattr   = 22 // arg1: list, arg2: size
	opFremovexattr = 23 // arg0: name

	slotArg0 = slotPath1
	slotArg1 = slotPath1 + 8
	slotArg2 = slotPath1 + 16
)

// fdOp is how an op is served: the syscall fault rules name it by, its
// event op, and the answer for the File's inode.
type fdOp struct {
	sys   faults.Sys
	ev    event.Op
	serve func(ss *session, b, tid int, th supervisor.Thread, ino fsimpl.Ino) int64
}

var fdOps = map[uint32]fdOp{
	opFchmod:       {faults.SyscallID("fchmod"), eventOp("fchmod"), (*session).fchmod},
	opFchown:       {faults.SyscallID("fchown"), eventOp("fchown"), (*session).fchown},
	opFstatx:       {faults.SyscallID("statx"), eventOp("statx"), (*session).fstatx},
	opFstatfs:      {faults.SyscallID("fstatfs"), eventOp("fstatfs"), (*session).fstatfs},
	opFgetxattr:    {faults.SyscallID("fgetxattr"), eventOp("fgetxattr"), (*session).fgetxattr},
	opFsetxattr:    {faults.SyscallID("fsetxattr"), eventOp("fsetxattr"), (*session).fsetxattr},
	opFlistxattr:   {faults.SyscallID("flistxattr"), eventOp("flistxattr"), (*session).flistxattr},
	opFremovexattr: {faults.SyscallID("fremovexattr"), eventOp("fremovexattr"), (*session).fremovexattr},
}

// serveFd answers a descriptor op; ok false: op is not one.
func (ss *session) serveFd(b, tid int, op uint32, start time.Time) (int64, bool) {
	o, ok := fdOps[op]
	if !ok {
		return 0, false
	}
	// A call a fault rule names is not answered here (as serveSlot's
	// path calls are not): it is made the ordinary way, which the seccomp
	// lane does not serve for this descriptor, so it reaches the backing
	// file as it did before the channel knew these calls.
	if ss.s.faults.Wants(o.sys) {
		return Pass, true
	}
	ino, ok := ss.inoOf(ss.seg.getU64(b + slotLen))
	if !ok {
		return Pass, true
	}
	th, good := ss.s.sup.LaneThread(tid)
	if !good || th.Tgid() != ss.tgid {
		return Pass, true
	}
	r := o.serve(ss, b, tid, th, ino)
	ss.observe(o.ev, tid, "", r, start)
	return r, true
}

// setAttr changes ino's attributes for th, as the seccomp lane's fdSetAttr
// (fs/open.c:chmod_common(), chown_common()). A process gone since it
// posted the request is not acted for.
func (ss *session) setAttr(th supervisor.Thread, ino fsimpl.Ino, in *fsimpl.SetAttrIn) int64 {
	if ss.gone() {
		return Pass
	}
	_, e := ss.s.fs.SetAttr(th.Cred(), ino, in, nil)
	return result(e)
}

func (ss *session) fchmod(b, _ int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	return ss.setAttr(th, ino, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: ss.seg.load(b+slotMode) & 0o7777})
}

func (ss *session) fchown(b, _ int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	return ss.setAttr(th, ino, supervisor.ChownIn(ss.seg.load(b+slotMode), ss.seg.load(b+slotMask)))
}

// fstatx answers statx(fd, "", AT_EMPTY_PATH, ...) as the seccomp lane's
// statx does for a served descriptor.
func (ss *session) fstatx(b, _ int, _ supervisor.Thread, ino fsimpl.Ino) int64 {
	flags := int(int32(ss.seg.load(b + slotFlags)))
	if e := supervisor.StatxArgsErr(flags, ss.seg.load(b+slotMask)); e != 0 {
		return result(e)
	}
	a, e := ss.s.fs.GetAttr(ino)
	if e != 0 {
		return Pass
	}
	stx := ss.s.sup.StatxOf(&a)
	ss.reply(b, bytesOf(&stx))
	return 0
}

// fstatfs answers with the filesystem's numbers as statfs of a path under
// the mount reports them.
func (ss *session) fstatfs(b, _ int, _ supervisor.Thread, _ fsimpl.Ino) int64 {
	st := ss.s.sup.StatfsOf(ss.s.fs.StatFs())
	ss.reply(b, bytesOf(&st))
	return 0
}

// The xattr calls read their name and value from the caller's memory and
// write what they return there, as the seccomp lane's f*xattr do.

func (ss *session) fgetxattr(b, tid int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	name, e := supervisor.XattrName(tid, ss.seg.getU64(b+slotArg0), ss.scratch[:])
	if e != 0 {
		return result(e)
	}
	v, e := ss.s.fs.GetXattr(th.Cred(), ino, name)
	if e != 0 {
		return result(e)
	}
	n, e := supervisor.PutSized(tid, v, ss.seg.getU64(b+slotArg1), min(ss.seg.getU64(b+slotArg2), fsimpl.XattrSizeMax))
	if e != 0 {
		return result(e)
	}
	return n
}

func (ss *session) flistxattr(b, tid int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	names, e := ss.s.fs.ListXattr(th.Cred(), ino)
	if e != 0 {
		return result(e)
	}
	n, e := supervisor.PutSized(tid, supervisor.XattrList(names), ss.seg.getU64(b+slotArg1),
		min(ss.seg.getU64(b+slotArg2), fsimpl.XattrListMax))
	if e != 0 {
		return result(e)
	}
	return n
}

func (ss *session) fsetxattr(b, tid int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	name, v, flags, e := supervisor.SetxattrArgs(tid, ss.scratch[:], ss.seg.getU64(b+slotArg0), ss.seg.getU64(b+slotArg1),
		ss.seg.getU64(b+slotArg2), int(int32(ss.seg.load(b+slotFlags))))
	if e != 0 {
		return result(e)
	}
	if ss.gone() {
		return Pass
	}
	return result(ss.s.fs.SetXattr(th.Cred(), ino, name, v, flags))
}

func (ss *session) fremovexattr(b, tid int, th supervisor.Thread, ino fsimpl.Ino) int64 {
	name, e := supervisor.XattrName(tid, ss.seg.getU64(b+slotArg0), ss.scratch[:])
	if e != 0 {
		return result(e)
	}
	if ss.gone() {
		return Pass
	}
	return result(ss.s.fs.RemoveXattr(th.Cred(), ino, name))
}
