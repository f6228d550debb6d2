package fuseserve

import (
	"log/slog"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// req is one request on its way through rawFS: every handler takes one
// with rawFS.req as it starts and hands it to rawFS.done with the errno it
// answers. done is the door's one reply point, where the request is
// counted, reported to the Observer and its errno converted, so that what
// is counted and what is traced cannot drift apart (as go-fuse's server
// loop records latency once, not in a wrapper per operation). Requests
// go-fuse answers itself (INIT, the ones it answers ENOSYS) never reach a
// handler and are not reported.
//
// A req is made on every request, observed or not, so its shape serves the
// compiler. It holds the header's fields, not the header: the observer's
// side of done keeps, as far as escape analysis can tell, every pointer in
// a req, and a header built on the stack (FORGET's) would move to the heap.
// And rawFS.req must stay inlinable (go build -gcflags=-m tells):
// returned from a call, a req is assembled in memory with narrow stores and
// copied out with wide loads, which stall.
type req struct {
	op   event.Op
	tid  int32  // the caller's thread
	node uint64 // the node, or the directory of name
	name string // the name in directory node, if the op has one
	// start is when the request began, on the monotonic clock since
	// clockBase; zero unless observed: the unobserved door reads no clock.
	start time.Duration
	// entry is the entry reply of an op that names a node (LOOKUP, CREATE,
	// MKDIR, MKNOD, SYMLINK, LINK), from which the path cache learns. A
	// LOOKUP of "." or ".." leaves it nil: the node is rebuilt from a file
	// handle, with no known path.
	entry *fuse.EntryOut
	// fault is the fault injected into the request (inject.go), or nil.
	fault *faultInfo
}

// clockBase is the origin of req.start: a Duration is a third of the size
// of a time.Time, and time.Since of a monotonic time reads one clock where
// time.Now reads two.
var clockBase = time.Now()

// req starts request op about node h.NodeId, or about name in that
// directory when name is set.
func (r *rawFS) req(op event.Op, h *fuse.InHeader, name string) req {
	return req{op: op, tid: int32(h.Caller.Pid), node: h.NodeId, name: name, start: r.clock()}
}

// clock is the time since clockBase, or 0 on an unobserved door. It is
// kept out of line so that rawFS.req fits the inliner's budget: an
// unobserved request pays a call that returns 0.
//
//go:noinline
func (r *rawFS) clock() time.Duration {
	if r.obs == nil {
		return 0
	}
	return time.Since(clockBase)
}

// done is the reply boundary: it counts the request (under package event's
// op numbering, so these counters and the shared-memory mirror name the
// same operations), reports it when observed, and turns the errno of a
// handler into the status go-fuse sends (go-fuse flips the sign).
//
// fsimpl answers ENOSYS for nothing it implements; passing one on would
// make the kernel stop sending that operation for the life of the mount,
// so it becomes EIO and a log line. A successful entry reply without a
// node is a negative entry: sent as success, for the kernel to cache the
// absence, but counted and reported as the ENOENT it is.
func (r *rawFS) done(q req, e unix.Errno) fuse.Status {
	c := &r.stats.ops[q.op]
	c.calls.Add(1)
	st, seen := fuse.OK, fuse.OK // the status sent, and the one counted and reported
	switch {
	case e == unix.ENOSYS:
		slog.Error("fuseserve: fsimpl answered ENOSYS; replying EIO", "op", q.op.String())
		st, seen = fuse.EIO, fuse.EIO
	case e != 0:
		st, seen = fuse.Status(e), fuse.Status(e)
	case q.entry != nil && q.entry.NodeId == 0:
		seen = fuse.ENOENT
	}
	if seen != fuse.OK {
		c.errors.Add(1)
	}
	if q.fault != nil && q.fault.f.DelayExit > 0 {
		time.Sleep(q.fault.f.DelayExit)
	}
	if r.obs != nil {
		r.observe(&q, seen)
	}
	return st
}

// observe reports q, answered st, and learns the path of the node its
// entry reply names. It allocates only to learn a new path.
func (r *rawFS) observe(q *req, st fuse.Status) {
	id := q.node
	ev := event.Event{
		Op: q.op, Door: event.DoorFUSE, Outcome: event.Served,
		Tid: q.tid, Ino: id, Latency: time.Since(clockBase) - q.start,
	}
	if q.name != "" {
		ev.Dir, ev.Path = r.paths.get(id), q.name
	} else {
		ev.Path = r.paths.get(id)
	}
	if st != fuse.OK {
		ev.Outcome, ev.Errno = event.Classify(q.op, unix.Errno(st)), unix.Errno(st)
	}
	if q.fault != nil {
		q.fault.event(&ev)
	}
	r.obs.Observe(ev)
	if st == fuse.OK && q.entry != nil {
		out := q.entry
		r.paths.entry(id, q.name, out.NodeId, out.Attr.Mode&unix.S_IFMT == unix.S_IFDIR)
	}
}

// holds reports whether the kernel holds lookups of ino.
func (t *lookupTable) holds(ino fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refs[ino] > 0
}
