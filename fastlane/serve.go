package fastlane

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// WorkerPatience is the longest a sleeping worker waits before it looks
// whether its process is gone.
const WorkerPatience = time.Second

// workerPoll is how long a worker keeps polling its slots after the last
// request before it sleeps on the doorbell: a program in a loop of path
// calls keeps it awake and pays no wake-up, an idle one costs nothing.
const workerPoll = 50 * time.Microsecond

// session is one handshaked process and its worker.
type session struct {
	s     *Server
	seg   *segment
	tgid  int
	pidfd int
	// bell is the daemon's end of the doorbell socket: the worker sleeps
	// in a read of it, the library writes a byte to wake it. A write to
	// a unix socket wakes its reader synchronously (the kernel runs it on
	// the writer's CPU when the writer goes to sleep), which a FUTEX_WAKE
	// does not: on a busy machine that is the difference between running
	// at once and waiting for a CPU. The library's end closes when the
	// process exits or execs: the read then sees the end.
	bell int

	stopped atomic.Bool

	// mu orders end against release: the segment is unmapped once, and
	// never touched after that.
	mu       sync.Mutex
	released bool // guarded by mu
	// serveMu is held while a request is served, by the worker or by a
	// doorbell (doorbell.go), and by release: what follows is the
	// server's alone while it is held. Comes before mu.
	serveMu sync.Mutex
	// bellID names the session to the doorbell (hdrDoorbell); 0: none.
	bellID uint32

	// ats are the server's scratch paths (two for rename); guarded by
	// serveMu, as everything down to viewSessionState.
	ats [2]fsimpl.At
	// threads are the process's threads as the supervisor resolved them
	// (threads.go).
	threads map[int]threadEntry
	// scratch is the buffer for a name read from the process
	// (supervisor.XattrName).
	scratch [4096]byte
	// files are the Files the process opened through the channel, by the
	// id the library keeps for the descriptor; held until the library
	// releases them (fl_close) or the session ends.
	files  map[uint64]*fsimpl.File
	nextID uint64
	// backing: the process was given the backing directory at the
	// handshake, so opens may be served.
	backing bool
	viewSessionState
}

// end asks the worker to stop; the process passes from then on.
func (ss *session) end() {
	ss.stopped.Store(true)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.released {
		ss.seg.store(hdrState, stateClosed)
		unix.Shutdown(ss.bell, unix.SHUT_RDWR) // ends the worker's read
	}
}

// release frees what the session holds; only its worker calls it, last
// (or the handshake, when the worker never started).
func (ss *session) release() {
	ss.flushHits()
	ss.serveMu.Lock()
	defer ss.serveMu.Unlock()
	pinned := ss.s.dropPins(ss)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.released = true
	ss.seg.close()
	unix.Close(ss.pidfd)
	unix.Close(ss.bell)
	for id, f := range ss.files {
		ss.s.fs.Release(f)
		delete(ss.files, id)
	}
	if pinned {
		ss.s.fs.RecheckPins()
	}
}

// gone reports whether the process has exited (its pidfd is readable).
func (ss *session) gone() bool {
	pfd := []unix.PollFd{{Fd: int32(ss.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0
}

// run is the worker: it serves requests until the process is gone or the
// server closes.
func (ss *session) run() {
	defer ss.s.forget(ss)
	defer ss.release()
	// A locked thread: the futex sleep blocks it, and polling wants one
	// thread that stays hot.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	last := time.Now()
	woke := false
	for idle := 0; !ss.stopped.Load(); idle++ {
		if any, w := ss.serveAll(); any {
			last, idle, woke = time.Now(), 0, w
			continue
		}
		// Poll without yielding: a locked thread that yields waits for
		// the scheduler to hand its goroutine back, which costs a
		// thread wake-up, the very thing polling is for. But not after
		// waking a thread that slept for its reply: it needs a CPU, and
		// polling holds one (on a busy machine, the one it would run
		// on); its next request rings the doorbell.
		if !woke && (idle%64 != 0 || time.Since(last) < workerPoll) {
			continue
		}
		woke = false
		// Announce the sleep, then look once more: a request posted
		// before the announcement was seen is served now; one posted
		// after it rings the bell, whose byte waits in the socket.
		ss.seg.store(hdrSleeping, 1)
		gone := false
		if !ss.pending() {
			gone = ss.sleep()
		}
		ss.seg.store(hdrSleeping, 0)
		ss.flushHits()
		last = time.Now()
		if gone || ss.gone() {
			return
		}
	}
}

// sleep waits for the doorbell, at most WorkerPatience (the socket's
// receive timeout), and reports whether the library's end is gone.
func (ss *session) sleep() bool {
	var buf [64]byte
	n, err := unix.Read(ss.bell, buf[:])
	return n == 0 && err == nil
}

// pending reports whether a slot holds a request.
func (ss *session) pending() bool {
	for i := 0; i < NumSlots; i++ {
		if ss.seg.load(slotBase(i)+slotState) == slotRequest {
			return true
		}
	}
	return false
}

// serveAll answers every request posted, and reports whether there was
// one and whether it woke a thread sleeping for its reply.
func (ss *session) serveAll() (any, woke bool) {
	for i := 0; i < NumSlots; i++ {
		b := slotBase(i)
		if ss.seg.load(b+slotState) != slotRequest {
			continue
		}
		ss.serveMu.Lock()
		if ss.seg.cas(b+slotState, slotRequest, slotBusy) {
			any = true
			woke = ss.finish(b, ss.serveSlot(b)) || woke
		}
		ss.serveMu.Unlock()
	}
	return any, woke
}

// finish posts result r in the slot at b and wakes its thread if it
// sleeps for it; it reports whether it did.
func (ss *session) finish(b int, r int64) bool {
	ss.seg.putU64(b+slotResult, uint64(r))
	ss.seg.store(b+slotState, slotDone)
	if ss.seg.load(b+slotWaiting) != 0 {
		ss.seg.wake(b + slotState)
		return true
	}
	return false
}
