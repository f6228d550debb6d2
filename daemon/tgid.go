package daemon

import (
	"sync/atomic"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/procfs"
)

// tgidSlots is the size of the TID -> TGID cache (a power of two).
const tgidSlots = 4096

// tgidCache maps thread ids to their thread-group ids. Both doors know only
// the calling thread (FUSE's in.Caller.Pid and a seccomp notification's pid
// are TIDs); /proc/TID/status is read once per new TID and the answer kept
// in a direct-mapped table of atomic words, so a hit is one load and no
// lock. A collision evicts the older TID. A TID that is reused after its
// thread exited may show its predecessor's TGID until it is evicted; TIDs
// are reused only after the pid space wraps.
type tgidCache struct {
	slots [tgidSlots]atomic.Uint64 // tid<<32 | tgid; 0 empty
	read  func(tid int32) int32    // /proc reader; tests replace it
}

func newTgidCache() *tgidCache { return &tgidCache{read: readTgid} }

// lookup returns the TGID of tid, or 0 if tid is gone or unknown.
func (c *tgidCache) lookup(tid int32) int32 {
	if tid <= 0 {
		return 0
	}
	s := &c.slots[uint32(tid)&(tgidSlots-1)]
	if w := s.Load(); w != 0 && int32(w>>32) == tid {
		return int32(uint32(w))
	}
	tgid := c.read(tid)
	if tgid > 0 {
		s.Store(uint64(uint32(tid))<<32 | uint64(uint32(tgid)))
	}
	return tgid
}

// readTgid reads the thread group of tid from /proc; 0 if the thread is gone.
func readTgid(tid int32) int32 {
	st, _ := procfs.ReadStatus(int(tid)) // Tgid comes before the lines ok is about
	return int32(st.Tgid)
}

// tgidObserver fills in the TGID of events that carry only a TID, then
// passes them on.
type tgidObserver struct {
	next  event.Observer
	cache *tgidCache
}

func (o *tgidObserver) Observe(ev event.Event) {
	if ev.Tgid == 0 {
		ev.Tgid = o.cache.lookup(ev.Tid)
	}
	o.next.Observe(ev)
}
