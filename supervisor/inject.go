package supervisor

import (
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/internal/procfs"
)

// Fault injection on the seccomp lane. The rules and their semantics live
// in package faults; this file only describes a notified call to the
// matcher (its paths, its process) and delivers the fault it gets back, in
// the one dispatch point, so every notified syscall can be faulted, inside
// the mount or outside it (where the fault replaces the CONTINUE).

// faultArgs says where a row's paths or descriptor are, for the matcher.
type faultArgs struct {
	// dir and path: argument indexes of up to two (dirfd, path) pairs;
	// dir -1 is AT_FDCWD, path -1 none.
	dir, path [2]int8
	fd        int8 // argument index of the descriptor the call is about; -1 none
}

var (
	pathAtCwd = []string{"open", "creat", "stat", "lstat", "statfs", "access", "readlink", "chmod", "chown", "lchown",
		"truncate", "utimes", "utime", "mkdir", "mknod", "unlink", "rmdir", "chdir", "setxattr", "lsetxattr",
		"getxattr", "lgetxattr", "listxattr", "llistxattr", "removexattr", "lremovexattr", "execve"}
	pathAtDir = []string{"openat", "openat2", "newfstatat", "statx", "faccessat", "faccessat2", "readlinkat", "fchmodat",
		"fchownat", "utimensat", "futimesat", "mkdirat", "mknodat", "unlinkat", "execveat"}
)

func faultArgsOf(r *sysRow) faultArgs {
	a := faultArgs{dir: [2]int8{-1, -1}, path: [2]int8{-1, -1}, fd: -1}
	switch {
	case slices.Contains(pathAtCwd, r.name):
		a.path[0] = 0
	case slices.Contains(pathAtDir, r.name):
		a.dir[0], a.path[0] = 0, 1
	case r.name == "rename" || r.name == "link":
		a.path = [2]int8{0, 1}
	case r.name == "renameat" || r.name == "renameat2" || r.name == "linkat":
		a.dir, a.path = [2]int8{0, 2}, [2]int8{1, 3}
	case r.name == "symlink":
		a.path[0] = 1 // the link's path; the target is only text
	case r.name == "symlinkat":
		a.dir[0], a.path[0] = 1, 2
	case r.rule == notifyFD || r.rule == notifyAnyFD || r.rule == notifyData:
		a.fd = 0
	}
	return a
}

// matchFault describes c to the fault rules; it is called only when a
// rule names c's syscall.
func (c *call) matchFault(row *sysRow) (faults.Fault, bool) {
	s := c.s
	fc := faults.Call{Sys: row.fsys, Group: c.l.group, Pid: int(s.tgids.Lookup(int32(c.tid)))}
	a := &row.args
	switch {
	case a.fd >= 0:
		fc.Path = c.fdPath(c.fdArg(int(a.fd)))
	case a.path[0] >= 0:
		fc.Path = c.faultPath(a.dir[0], a.path[0])
		if a.path[1] >= 0 {
			fc.Path2 = c.faultPath(a.dir[1], a.path[1])
		}
	}
	tid := c.tid
	fc.Comm = func() string { return procfs.Comm(tid) }
	if isWrite(row.nr) {
		fc.Len = c.ioLen(row.nr)
		fc.Pos = func() int64 { return c.filePos(row.nr) }
	}
	f, ok := s.faults.Match(&fc)
	if ok {
		c.pathArg = fc.Path
	}
	return f, ok
}

// faultPath is the absolute path that argument pair (dirArg, pathArg)
// names, cleaned lexically; the descriptor's path for an empty or NULL
// path; "" when it cannot be read.
func (c *call) faultPath(dirArg, pathArg int8) string {
	dirfd := int32(unix.AT_FDCWD)
	if dirArg >= 0 {
		dirfd = c.fdArg(int(dirArg))
	}
	var buf [pathMax]byte
	p, e := readString(c.tid, c.arg(int(pathArg)), buf[:])
	if e != 0 || p == "" {
		if dirfd == unix.AT_FDCWD {
			return ""
		}
		return c.fdPath(dirfd)
	}
	full, _, ok := absPath(c.tid, dirfd, p)
	if !ok {
		return ""
	}
	return path.Clean(full)
}

// fdPath is the path of the file behind descriptor fd of the target: the
// mount path it was opened by for a served file (servedPaths), else what
// /proc/TID/fd/N shows. A served file opened before any rule existed has
// no recorded path: "" (its backing file's path would mislead a glob).
func (c *call) fdPath(fd int32) string {
	if fd < 0 {
		return ""
	}
	if ino, ok := c.fdIno(fd); ok {
		if p, ok := c.s.servedPaths.Load(uint64(ino)); ok {
			return p.(string)
		}
		return ""
	}
	p, _ := readlink(procPath(c.tid, "fd/"+itoa(int(fd))))
	return p
}

// maxServedPaths bounds servedPaths; past it, files opened later are
// matched by rules without a path only.
const maxServedPaths = 1 << 16

// rememberPath records the mount path by which a served file was opened,
// for rules on its data syscalls (only for a listener whose filter
// notifies them).
func (c *call) rememberPath(ino uint64, mount, rest string) {
	s := c.s
	if !c.l.data {
		return
	}
	if _, loaded := s.servedPaths.Swap(ino, path.Join(mount, rest)); !loaded {
		if s.servedPathsN.Add(1) > maxServedPaths {
			s.servedPaths.Delete(ino)
			s.servedPathsN.Add(-1)
		}
	}
}

// withFault answers c under fault f: the fault's error or value instead of
// the call, or the data moved as the fault says, or the call as usual
// around the fault's delays. A signal is sent to the calling thread before
// the answer when the call does not run in the kernel (it is delivered as
// the call returns, as with strace), and after it otherwise (dispatch).
//
// delay_exit is slept after the answer is decided when the fault replaces
// the call, and before the call otherwise: a CONTINUEd call runs in the
// kernel after the answer, and a served open is answered by the ADDFD
// that installs its descriptor, so there is no later moment to sleep at;
// the caller waits as long either way, only the effect comes earlier.
func (c *call) withFault(row *sysRow, f *faults.Fault) result {
	if d := f.DelayEnter + c.exitBefore(f); d > 0 {
		c.pause(d)
	}
	var r result
	switch {
	case f.Errno != 0:
		r, c.faultKind = fail(f.Errno), event.FaultError
	case f.HasRetval:
		r, c.faultKind, c.faultVal = ok(f.Retval), event.FaultRetval, f.Retval
	case f.Short > 0 || f.Corrupt > 0 || f.ENOSPC >= 0:
		r = c.dataFault(row, f)
	default:
		r = answer(c)
		c.faultKind = event.FaultDelay
		if f.Signal != 0 {
			c.faultKind, c.faultVal = event.FaultSignal, int64(f.Signal)
		}
	}
	if f.Signal != 0 {
		c.signal(f.Signal)
	}
	if f.DelayExit > 0 && c.exitBefore(f) == 0 {
		c.pause(f.DelayExit)
	}
	return r
}

// exitBefore is the part of f's delay_exit slept before the call.
func (c *call) exitBefore(f *faults.Fault) time.Duration {
	if f.Replaces() {
		return 0
	}
	return f.DelayExit
}

// signal sends sig to the calling thread, as strace's signal= does.
func (c *call) signal(sig unix.Signal) {
	if tgid := c.s.tgids.Lookup(int32(c.tid)); tgid > 0 {
		unix.Tgkill(int(tgid), c.tid, sig)
	}
}

// pause sleeps for an injected delay without holding up other targets:
// the thread gives up its receive turn, and a spare receiver replaces it
// while it sleeps (the spare retires once this one is back).
func (c *call) pause(d time.Duration) {
	c.handOff()
	l := c.l
	if l.sleepBegin(c.s.receivers) {
		c.s.startReceiver(l)
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-l.done:
		t.Stop()
	}
	l.sleepEnd()
}

// maxSpares bounds the spare receivers of a listener: past it, more
// sleeping calls hold up the others.
const maxSpares = 64

// sleepBegin counts a receiver that goes to sleep in an injected delay
// and reports whether a spare must be started in its place (counted
// awake here). avail counts the awake receivers; spares those beyond the
// supervisor's number.
func (l *listener) sleepBegin(receivers int) bool {
	if l.avail.Add(-1) >= int32(receivers) {
		return false
	}
	if l.spares.Add(1) > maxSpares {
		l.spares.Add(-1)
		return false
	}
	l.avail.Add(1)
	return true
}

// sleepEnd counts the sleeper awake again.
func (l *listener) sleepEnd() { l.avail.Add(1) }

// retire reports whether a receiver leaves now, because more are awake
// than the supervisor keeps (a sleeper came back and its spare is
// surplus); at most one receiver leaves per surplus.
func (l *listener) retire(receivers int) bool {
	for {
		n := l.avail.Load()
		if n <= int32(receivers) {
			return false
		}
		if l.avail.CompareAndSwap(n, n-1) {
			l.spares.Add(-1)
			return true
		}
	}
}

// faultEvent fills in ev for an answer under a fault.
func (c *call) faultEvent(ev *event.Event) {
	ev.Outcome = event.Injected
	ev.Rule = uint16(c.fault.Rule)
	ev.Fault = c.faultKind
	ev.FaultValue = c.faultVal
}
