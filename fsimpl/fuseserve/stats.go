package fuseserve

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/event"
)

// OpStats counts one kind of request.
type OpStats struct {
	Calls  uint64
	Errors uint64 // replies other than success
}

// Stats is a snapshot of the adapter's counters.
type Stats struct {
	// Ops is keyed by FUSE opcode name (LOOKUP, GETXATTR, ...); requests
	// the adapter does not implement (answered ENOSYS by go-fuse) are not
	// counted.
	Ops map[string]OpStats

	// Backing IDs for passthrough: registrations that succeeded and
	// failed (each failure failed an open with EIO), unregistrations the
	// kernel refused, and IDs registered right now.
	BackingRegistered, BackingFailed, BackingUnregisterFailed uint64
	BackingLive                                               int
	// OpenFiles is the number of open file handles.
	OpenFiles int
	// KernelRefs is the sum of the kernel's lookup counts held on fsimpl.
	KernelRefs uint64

	// Invalidations: requests queued, notifications sent, notifications the
	// kernel refused for a reason other than "not cached", and times the
	// queue overflowed and everything was flushed instead.
	InvalQueued, InvalSent, InvalErrors, InvalOverflows uint64
	// InvalSkipped counts the invalidations not sent because the kernel
	// could not have cached what they name (knows.go).
	InvalSkipped uint64

	// Panics in handlers (each answered EIO).
	Panics uint64
}

type opCounter struct{ calls, errors atomic.Uint64 }

type counters struct {
	ops                                 [event.NumFUSEOps]opCounter
	backingOK, backingFail, unregFail   atomic.Uint64
	invalQueued, invalSent, invalErrors atomic.Uint64
	invalOverflows, panics              atomic.Uint64
	invalSkipped                        atomic.Uint64
}

// Stats returns the adapter's counters.
func (s *Server) Stats() Stats {
	r := s.raw
	st := Stats{Ops: make(map[string]OpStats)}
	for i := range r.stats.ops {
		c := &r.stats.ops[i]
		if n := c.calls.Load(); n > 0 {
			st.Ops[event.Op(i).String()] = OpStats{Calls: n, Errors: c.errors.Load()}
		}
	}
	st.BackingRegistered = r.stats.backingOK.Load()
	st.BackingFailed = r.stats.backingFail.Load()
	st.BackingUnregisterFailed = r.stats.unregFail.Load()
	st.BackingLive, st.OpenFiles = r.handles.sizes()
	st.KernelRefs = r.lookups.total()
	st.InvalQueued = r.stats.invalQueued.Load()
	st.InvalSent = r.stats.invalSent.Load()
	st.InvalErrors = r.stats.invalErrors.Load()
	st.InvalOverflows = r.stats.invalOverflows.Load()
	st.InvalSkipped = r.stats.invalSkipped.Load()
	st.Panics = r.stats.panics.Load()
	return st
}

// panicked is go-fuse's PanicHandler: the request is answered EIO.
func (r *rawFS) panicked(v any) fuse.Status {
	r.stats.panics.Add(1)
	slog.Error("fuseserve: panic in FUSE handler", "panic", v, "stack", string(debug.Stack()))
	return fuse.EIO
}
