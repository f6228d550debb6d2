package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
)

// auditArchX8664 is AUDIT_ARCH_X86_64; the filter refuses every other
// architecture before a notification is made.
const auditArchX8664 = 0xc000003e

// call is one notification being handled, with what was read about it.
// Each receiver thread reuses one call.
type call struct {
	s   *Supervisor
	l   *listener
	n   notif
	tid int

	turn bool // this thread holds the listener's receive turn
	// waitSeq is the ticket of this thread's ADDFD in progress (see
	// listener.waiting).
	waitSeq uint64

	cred    *taskCred // lazily read
	credErr unix.Errno
	// tgid is the caller's thread group when a handler learnt it
	// without its credentials (0: not known).
	tgid    int
	pathArg string // the last path argument read, for the observer
	buf     [pathMax]byte
	// ats holds the paths of the call (two for rename and link).
	ats  [2]fsimpl.At
	nats int

	// fault is the fault injected into this call (nil: none), with what
	// it did for the event.
	fault     *faults.Fault
	faultBuf  faults.Fault
	faultKind event.FaultKind
	faultVal  int64
}

func (c *call) reset(n *notif) {
	c.n = *n
	c.tid = int(n.Pid)
	c.cred = nil
	c.credErr = 0
	c.tgid = 0
	c.pathArg = ""
	c.nats = 0
	c.fault = nil
	c.faultKind, c.faultVal = 0, 0
}

// handOff gives the receive turn to another receiver thread (when this
// one stops receiving).
func (c *call) handOff() {
	if c.turn {
		c.turn = false
		c.l.turn <- struct{}{}
	}
}

// waitBegin is called before something that waits on others (ADDFD: the
// kernel returns once the target has installed the fd; an invalidation:
// the kernel takes the inode's lock). The thread keeps its receive turn,
// because handing it over costs two thread wake-ups, more than such a wait
// normally lasts. A target that does not run meanwhile (stopped, or
// traced) would hold every other target up, so the listener's watchdog
// takes the turn away from a wait that lasts addfdPatience (turn.go).
func (c *call) waitBegin() {
	if !c.turn {
		return
	}
	c.waitSeq = c.l.seq.Add(1)
	c.l.waitStart.Store(monoNow())
	c.l.waiting.Store(c.waitSeq)
	c.l.armAlarm()
}

// waitEnd ends what waitBegin started; the thread has lost its turn if
// the watchdog took it meanwhile. The alarm stays armed: the watchdog
// finds no wait when it goes off and sleeps until a wait arms it again.
func (c *call) waitEnd() {
	if !c.turn {
		return
	}
	if !c.l.waiting.CompareAndSwap(c.waitSeq, 0) {
		c.turn = false
	}
}

func (c *call) arg(i int) uint64    { return c.n.Data.Args[i] }
func (c *call) fdArg(i int) int32   { return int32(c.n.Data.Args[i]) }
func (c *call) intArg(i int) int    { return int(int32(c.n.Data.Args[i])) }
func (c *call) u32Arg(i int) uint32 { return uint32(c.n.Data.Args[i]) }

// path reads the path argument at address addr, once.
func (c *call) path(addr uint64) (string, unix.Errno) {
	p, e := readString(c.tid, addr, c.buf[:])
	c.pathArg = p
	return p, e
}

// credentials returns the thread's credentials (from the cache, or read
// once per notification).
//
// A thread the FUSE mount would not let in, or of a listener left to the
// kernel (viewChange), gets EACCES here, which its callers, like every
// failure to read a thread's state, answer with CONTINUE.
func (c *call) credentials() (*taskCred, unix.Errno) {
	if c.cred == nil && c.credErr == 0 {
		if c.l.kernelOnly.Load() {
			c.credErr = unix.EACCES
			return nil, c.credErr
		}
		c.cred, c.credErr = c.s.creds.get(c.tid)
		if c.credErr == 0 && !c.s.admission.admits(c.cred) {
			c.cred, c.credErr = nil, unix.EACCES
		}
	}
	return c.cred, c.credErr
}

// admitted reports whether the FUSE mount lets the thread in, for calls
// that need no credentials otherwise (fstat of a served descriptor).
func (c *call) admitted() bool {
	if c.s.admission.allowOther {
		return true
	}
	_, e := c.credentials()
	return e == 0
}

// valid reports whether the notification is still pending: checked after
// the arguments were read (the pid may have been reused since) and before
// a reply with effects.
func (c *call) valid() bool {
	return notifIDValid(c.l.fd, c.n.ID) == 0
}

// Flags for call.at.
const (
	atFollow = fsimpl.AtFollow // follow a symlink in the last component
	// atEmptyOK: an empty path is about dirfd itself (AT_EMPTY_PATH).
	atEmptyOK = 1 << 8
)

// at reads the path argument at addr and turns it into the fsimpl.At of a
// path walked from dirfd with the thread's credentials. ok false: answer
// r, which is CONTINUE for a path outside the mount, for a thread whose
// state cannot be read and for a thread in another user namespace.
//
// The host part of the path (before the mount) is judged lexically from a
// canonical start (/proc/TID/cwd or /proc/TID/fd/N), so any ".." or
// symlink there makes it outside: the kernel then walks it, through the
// FUSE door if it enters the mount after all.
func (c *call) at(dirfd int32, addr uint64, flags int) (*fsimpl.At, result, bool) {
	p, e := c.path(addr)
	if e != 0 {
		return nil, fail(e), false
	}
	if p == "" {
		if flags&atEmptyOK == 0 {
			return nil, fail(unix.ENOENT), false
		}
		// AT_EMPTY_PATH (or readlinkat's empty path): the call is about
		// dirfd itself (fs/namei.c:path_init() with LOOKUP_EMPTY), which
		// is not a served descriptor here (callers answer those first).
		// The kernel uses the descriptor, through the FUSE door if it is
		// in the mount.
		return nil, cont(), false
	}
	full, start, ok := absPath(c.tid, dirfd, p)
	if !ok {
		return nil, cont(), false
	}
	view := c.s.currentView()
	if view.kernelOnly {
		return nil, cont(), false
	}
	rest, ok := fsimpl.Within(view.path, full)
	if !ok {
		return nil, cont(), false
	}
	cr, e := c.credentials()
	if e != 0 || cr.foreign || !view.reachable(cr, start) {
		return nil, cont(), false
	}
	a := &c.ats[c.nats%len(c.ats)]
	c.nats++
	*a = fsimpl.At{Cred: &cr.fs, Dir: fsimpl.RootIno, Path: rest, Flags: flags & atFollow, Mount: view.path, Umask: cr.umask}
	return a, result{}, true
}

// fromErrno is the reply to an fsimpl call that returned e.
func fromErrno(e unix.Errno) result {
	switch e {
	case 0:
		return ok(0)
	case fsimpl.StepAside:
		return cont()
	}
	return fail(e)
}

// change runs an fsimpl call that changes the filesystem. Its change feed
// reaches the FUSE door before the call returns, so that the target's next
// syscall, even one CONTINUEd to the kernel, sees the change; sending an
// invalidation can wait on the kernel's inode lock, so the call counts as
// a wait on others, like an ADDFD (waitBegin).
func (c *call) change(fn func() unix.Errno) result {
	if !c.valid() {
		return fail(unix.ENOENT)
	}
	c.waitBegin()
	e := fn()
	c.waitEnd()
	return fromErrno(e)
}

// fdIno maps a descriptor of the target to the fsimpl inode whose backing
// file it is, or reports false when it is not a served descriptor.
func (c *call) fdIno(fd int32) (fsimpl.Ino, bool) {
	var st unix.Stat_t
	if !c.fdStat(fd, &st) {
		return 0, false
	}
	return c.s.fs.BackingIno(st.Dev, st.Ino)
}

// fdAttr is the attributes of the inode whose backing file descriptor fd
// of the target is, or false when it is not a served descriptor. The
// descriptor's stat is the backing file's, which fsimpl takes as its own
// (FS.BackingAttr) instead of stat'ing the backing file once more.
func (c *call) fdAttr(fd int32) (fsimpl.Attr, bool) {
	var st unix.Stat_t
	if !c.fdStat(fd, &st) {
		return fsimpl.Attr{}, false
	}
	return c.s.fs.BackingAttr(&st)
}

// fdStat stats descriptor fd of the target (through /proc/TID/fd), into
// st: the fields fsimpl reads of a backing file (FS.BackingAttr).
func (c *call) fdStat(fd int32, st *unix.Stat_t) bool {
	if fd < 0 {
		return false
	}
	// AT_STATX_DONT_SYNC keeps a descriptor on a network or FUSE
	// filesystem (a standard stream, say) from sending a request and
	// stalling this receiver (fuse_update_get_attr() and nfs_getattr()
	// answer from their caches with it); a backing file is on tmpfs,
	// whose attributes are always current.
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, procPath(c.tid, "fd/"+itoa(int(fd))), unix.AT_STATX_DONT_SYNC, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false
	}
	*st = unix.Stat_t{
		Dev:    unix.Mkdev(stx.Dev_major, stx.Dev_minor),
		Ino:    stx.Ino,
		Mode:   uint32(stx.Mode),
		Size:   int64(stx.Size),
		Blocks: int64(stx.Blocks),
		Atim:   unix.Timespec{Sec: stx.Atime.Sec, Nsec: int64(stx.Atime.Nsec)},
		Mtim:   unix.Timespec{Sec: stx.Mtime.Sec, Nsec: int64(stx.Mtime.Nsec)},
		Ctim:   unix.Timespec{Sec: stx.Ctime.Sec, Nsec: int64(stx.Ctime.Nsec)},
	}
	return true
}
