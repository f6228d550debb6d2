package supervisor

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/procfs"
)

// credChange lets a credential change through and makes the cache
// forget what it knew.
func credChange(c *call) result {
	c.s.creds.changed(c.tid)
	if fn := c.s.credHook.Load(); fn != nil {
		(*fn)(c.tid)
	}
	return cont()
}

// execChange lets an execve through. A setuid, setgid or file-capable
// program, or a root caller's capabilities recomputed, changes the ids at
// exec, but only the caller's (see credCache.execChanged). A caller that
// leads its thread group leads the new program's too: the thread-group
// cache learns it here, so that the new program's first notifications
// (its loader's) cost no look-up for their events.
func execChange(c *call) result {
	if c.s.creds.execChanged(c.tid) {
		c.tgid = c.tid
		c.s.tgids.Put(int32(c.tid), int32(c.tid))
	}
	if fn := c.s.credHook.Load(); fn != nil {
		(*fn)(c.tid)
	}
	return cont()
}

// viewChange lets a change of the caller's view of the filesystem through
// (chroot, a new mount or user namespace, a Landlock domain), and leaves
// every process of the listener to the kernel from then on: the change is
// inherited by children the supervisor cannot tell apart, and the kernel
// applies it at the FUSE mount, where stepping aside sends these calls.
func viewChange(c *call) result {
	c.l.kernelOnly.Store(true)
	c.s.viewChanged.Store(true)
	if fn := c.s.viewHook.Load(); fn != nil {
		(*fn)()
	}
	return credChange(c)
}

// credQuiet is how long after a credential change nothing is cached: the
// change is made by the kernel after the CONTINUE, at a moment the
// supervisor does not see. The changer's own next notification ends the
// window earlier (see credCache.get).
const credQuiet = 50 * time.Millisecond

// maxCredEntries bounds the cache (each entry holds a pidfd).
const maxCredEntries = 1024

// credCache remembers each thread's credentials and umask, which only
// notified syscalls can change, so that a notification costs a /proc read
// only the first time a thread is seen (reading /proc/TID/status costs
// more than the notification round trip itself).
//
// An entry is valid while
//   - no credential-changing syscall was notified since it was read (gen),
//   - its thread is still alive: a pidfd of the thread (PIDFD_THREAD) is
//     kept, and pidfd_send_signal(0) fails once it exited, so a TID reused
//     by a new thread is not mistaken for the old one (a notifying thread
//     is alive, so a live pidfd with its TID is that very thread).
//
// Lock order: credCache.mu is a leaf.
type credCache struct {
	gen   atomic.Uint64 // bumped at every credential change
	quiet atomic.Int64  // monotonic ns (since epoch below) until which nothing is cached
	// changers counts the threads whose change was CONTINUEd and not yet
	// followed by another notification of theirs, within the quiet window.
	// A change CONTINUEd but run by the kernel only after the window
	// (the changer preempted for 50 ms) while another thread caches is
	// the one case this misses.
	changers atomic.Int32

	// execers counts the entries of execing.
	execers atomic.Int32

	mu      sync.Mutex
	entries map[int]*credEntry // by TID; guarded by mu
	pending map[int]bool       // changer TIDs; guarded by mu
	// execing holds the thread-group leaders whose execve was
	// CONTINUEd and that have not notified since, with the end of their
	// quiet window: their credentials are not cached meanwhile. Guarded
	// by mu.
	execing map[int]int64

	// leads reports whether tid leads its thread group; nil:
	// procfs.IsLeader.
	// Tests replace it.
	leads func(tid int) bool
}

type credEntry struct {
	pidfd int
	gen   uint64
	cred  *taskCred
}

var credEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(credEpoch)) }

// changed records that thread tid is about to change its credentials.
func (cc *credCache) changed(tid int) {
	cc.gen.Add(1)
	cc.quiet.Store(monoNow() + int64(credQuiet))
	cc.mu.Lock()
	if cc.pending == nil {
		cc.pending = make(map[int]bool)
	}
	if !cc.pending[tid] {
		cc.pending[tid] = true
		cc.changers.Add(1)
	}
	cc.mu.Unlock()
}

// execChanged records that thread tid is about to execve. An exec
// changes the credentials of the caller alone: fs/exec.c:begin_new_exec()
// commits the new program's to the calling thread, after de_thread() has
// killed the others and given the caller the leader's TID. When tid leads
// its thread group, that TID is its own, so only tid's credentials are
// kept out of the cache until its next notification (or its quiet window
// ends), and every other thread keeps caching: a shell that runs a
// program per line would otherwise keep the whole tree on /proc reads,
// every notification of every process, for as long as it runs programs.
// Every entry is still invalidated (gen), as a change would: an entry
// read before this notification and stored after it must not survive.
// An exec by another thread takes a TID this does not know without
// reading /proc, so it quiets the whole cache, as changed does. It
// reports whether tid leads its thread group.
func (cc *credCache) execChanged(tid int) bool {
	leads := cc.leads
	if leads == nil {
		leads = procfs.IsLeader // a thread that cannot be asked: the cautious answer
	}
	if !leads(tid) {
		cc.changed(tid)
		return false
	}
	now := monoNow()
	cc.mu.Lock()
	if cc.execing == nil {
		cc.execing = make(map[int]int64)
	}
	cc.execing[tid] = now + int64(credQuiet)
	cc.sweepExecingLocked(now)
	cc.mu.Unlock()
	// After execing holds tid: a get that loads the new generation also
	// finds tid there before it stores an entry.
	cc.gen.Add(1)
	return true
}

// sweepExecingLocked drops the execing entries whose window ended.
func (cc *credCache) sweepExecingLocked(now int64) {
	for t, end := range cc.execing {
		if now >= end {
			delete(cc.execing, t)
		}
	}
	cc.execers.Store(int32(len(cc.execing)))
}

// seen is told of every notification while changes are pending.
func (cc *credCache) seen(tid int) {
	if cc.changers.Load() == 0 && cc.execers.Load() == 0 {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.execers.Load() != 0 {
		// tid's exec is over, done or failed: what it reads from now
		// on may be kept. Those that never notify again (they exited)
		// go with their window.
		delete(cc.execing, tid)
		cc.sweepExecingLocked(monoNow())
	}
	if cc.changers.Load() == 0 {
		return
	}
	if cc.pending[tid] {
		// tid's change is done (it is notifying again): what was cached
		// meanwhile may predate it.
		delete(cc.pending, tid)
		cc.changers.Add(-1)
		cc.gen.Add(1)
	} else if monoNow() >= cc.quiet.Load() {
		// Changers that did not notify again within the quiet window
		// (exited, or only native syscalls since) are assumed done.
		clear(cc.pending)
		cc.changers.Store(0)
	}
}

// get returns the credentials of thread tid, from the cache when valid.
func (cc *credCache) get(tid int) (*taskCred, unix.Errno) {
	g := cc.gen.Load()
	cc.mu.Lock()
	if e := cc.entries[tid]; e != nil {
		if e.gen == g && unix.PidfdSendSignal(e.pidfd, 0, nil, 0) == nil {
			cr := e.cred
			cc.mu.Unlock()
			return cr, 0
		}
		cc.dropLocked(tid, e)
	}
	cc.mu.Unlock()
	cr, errno := readCred(tid)
	if errno != 0 {
		return nil, errno
	}
	if monoNow() < cc.quiet.Load() || cc.gen.Load() != g {
		return cr, 0
	}
	pidfd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD)
	if err != nil {
		return cr, 0
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if end, ok := cc.execing[tid]; ok && monoNow() < end {
		unix.Close(pidfd)
		return cr, 0
	}
	if cc.entries == nil {
		cc.entries = make(map[int]*credEntry)
	}
	if old := cc.entries[tid]; old != nil {
		cc.dropLocked(tid, old)
	}
	if len(cc.entries) >= maxCredEntries {
		cc.clearLocked()
	}
	cc.entries[tid] = &credEntry{pidfd: pidfd, gen: g, cred: cr}
	return cr, 0
}

func (cc *credCache) dropLocked(tid int, e *credEntry) {
	unix.Close(e.pidfd)
	delete(cc.entries, tid)
}

func (cc *credCache) clearLocked() {
	for tid, e := range cc.entries {
		cc.dropLocked(tid, e)
	}
}

// close releases every pidfd.
func (cc *credCache) close() {
	cc.mu.Lock()
	cc.clearLocked()
	cc.mu.Unlock()
}
