package supervisor

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
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

	mu      sync.Mutex
	entries map[int]*credEntry // by TID; guarded by mu
	pending map[int]bool       // changer TIDs; guarded by mu
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

// seen is told of every notification while changes are pending.
func (cc *credCache) seen(tid int) {
	if cc.changers.Load() == 0 {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
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
