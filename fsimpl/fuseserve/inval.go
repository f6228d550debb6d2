package fuseserve

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// invalQueueLen bounds the invalidation queue (about 40 bytes a request).
const invalQueueLen = 4096

type invalKind uint8

const (
	invalEntry   invalKind = iota // name in parent
	invalAttr                     // attributes of ino
	invalData                     // attributes and pages of ino
	invalDelete                   // name in parent, which was ino, is gone
	invalBarrier                  // close done once everything before is sent
)

type invalReq struct {
	kind        invalKind
	parent, ino fsimpl.Ino
	name        string
	done        chan struct{}
}

// invalQueue sends the kernel the invalidations the other door asks for,
// from its own goroutine: a notification waits for the kernel's lock on the
// directory or inode, which a request in flight to this server may hold, so
// sending one from a FUSE handler (or from anything a handler waits for)
// can deadlock. push never blocks. When the queue is full the request is
// dropped and the overflow flag set; the sender then invalidates everything
// it can name (flushAll).
//
// The other door's invalidations do not go through the queue: sendNow
// sends them from the caller, which must not be a FUSE handler.
type invalQueue struct {
	// mu is read-held by every direct send and write-held by stop, so
	// that nothing is written to the device once serving has stopped.
	mu     sync.RWMutex
	closed bool // guarded by mu

	r        *rawFS
	srv      notifier
	ch       chan invalReq
	overflow atomic.Bool
	quit     chan struct{} // closed by stop
	stopped  chan struct{} // closed when the sender has returned
}

// notifier is the part of *fuse.Server the queue uses.
type notifier interface {
	EntryNotify(parent uint64, name string) fuse.Status
	InodeNotify(node uint64, off int64, length int64) fuse.Status
	DeleteNotify(parent uint64, child uint64, name string) fuse.Status
}

var _ notifier = (*fuse.Server)(nil)

func newInvalQueue(r *rawFS, srv notifier, n int) *invalQueue {
	q := &invalQueue{
		r:       r,
		srv:     srv,
		ch:      make(chan invalReq, n),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go q.run()
	return q
}

func (q *invalQueue) push(req invalReq) {
	q.r.stats.invalQueued.Add(1)
	select {
	case q.ch <- req:
	default:
		if !q.overflow.Swap(true) {
			q.r.stats.invalOverflows.Add(1)
			slog.Warn("fuseserve: invalidation queue full; falling back to invalidating everything")
		}
	}
}

// flush waits until everything queued before it has been sent (or the
// mount is gone).
func (q *invalQueue) flush() {
	done := make(chan struct{})
	select {
	case q.ch <- invalReq{kind: invalBarrier, done: done}:
	case <-q.stopped:
		return
	}
	select {
	case <-done:
	case <-q.stopped:
	}
}

// sendNow sends req from the calling goroutine and returns once the
// kernel has processed it.
func (q *invalQueue) sendNow(req invalReq) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return
	}
	q.send(req)
}

// stop ends the sender; called once serving has stopped.
func (q *invalQueue) stop() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	close(q.quit)
	<-q.stopped
}

func (q *invalQueue) run() {
	defer close(q.stopped)
	for {
		select {
		case req := <-q.ch:
			if q.overflow.Swap(false) {
				q.flushAll()
			}
			q.send(req)
		case <-q.quit:
			return
		}
	}
}

func (q *invalQueue) send(req invalReq) {
	var st fuse.Status
	switch req.kind {
	case invalBarrier:
		close(req.done)
		return
	case invalEntry:
		st = q.srv.EntryNotify(uint64(req.parent), req.name)
	case invalAttr:
		st = q.srv.InodeNotify(uint64(req.ino), -1, 0) // offset < 0: attributes only
	case invalData:
		st = q.srv.InodeNotify(uint64(req.ino), 0, 0) // length 0: to the end
	case invalDelete:
		st = q.srv.DeleteNotify(uint64(req.parent), uint64(req.ino), req.name)
	}
	q.result(req, st)
}

// result counts a notification. ENOENT means the kernel has nothing cached
// under that name or node, which is what was wanted.
func (q *invalQueue) result(req invalReq, st fuse.Status) {
	q.r.stats.invalSent.Add(1)
	if st.Ok() || st == fuse.ENOENT {
		return
	}
	q.r.stats.invalErrors.Add(1)
	slog.Debug("fuseserve: kernel refused an invalidation", "kind", req.kind,
		"parent", req.parent, "ino", req.ino, "name", req.name, "err", unix.Errno(st))
}

// flushAll is the overflow fallback. It drops the attributes and pages of
// every inode the kernel holds, and every cached name that still exists in
// a directory the kernel holds. Names removed meanwhile and cached negative
// entries cannot be named; they expire with the entry timeout.
func (q *invalQueue) flushAll() {
	inos := append(q.r.lookups.known(), fsimpl.RootIno)
	for _, ino := range inos {
		q.result(invalReq{kind: invalData, ino: ino}, q.srv.InodeNotify(uint64(ino), 0, 0))
		a, e := q.r.fs.GetAttr(ino)
		if e != 0 || a.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		// Collect first: no notification may be sent while fsimpl runs
		// its callback (its lock would then wait on the kernel's).
		var names []string
		q.r.fs.ReadDir(ino, 0, func(d fsimpl.Dirent) bool {
			if d.Name != "." && d.Name != ".." {
				names = append(names, d.Name)
			}
			return true
		})
		for _, name := range names {
			q.result(invalReq{kind: invalEntry, parent: ino, name: name}, q.srv.EntryNotify(uint64(ino), name))
		}
	}
}
