package procfs

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// tgidSlots is the size of a TgidCache (a power of two).
const tgidSlots = 4096

// TgidCache maps thread ids to their thread-group ids. Both doors know only
// the calling thread (FUSE's in.Caller.Pid and a seccomp notification's
// pid are TIDs), and so do the events they record; /proc/TID/status is
// read once per new TID and the answer kept in a direct-mapped table of
// atomic words, so a hit is one load and no lock, and the cache is safe
// for concurrent use. A collision evicts the older TID. A TID that is
// reused after its thread exited may show its predecessor's TGID until it
// is evicted; TIDs are reused only after the pid space wraps.
type TgidCache struct {
	slots [tgidSlots]atomic.Uint64 // tid<<32 | tgid; 0 empty
	read  func(tid int32) int32    // /proc reader; tests replace it
}

// NewTgidCache returns an empty cache.
func NewTgidCache() *TgidCache { return &TgidCache{read: readTgid} }

// Lookup returns the TGID of tid, or 0 if tid is gone or unknown.
func (c *TgidCache) Lookup(tid int32) int32 {
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

// Put records that tid's thread group is tgid, learnt elsewhere (a
// thread that has just been found to lead its group), so that Lookup need
// not read it. A nil cache keeps nothing.
func (c *TgidCache) Put(tid, tgid int32) {
	if c == nil || tid <= 0 || tgid <= 0 {
		return
	}
	c.slots[uint32(tid)&(tgidSlots-1)].Store(uint64(uint32(tid))<<32 | uint64(uint32(tgid)))
}

// Peek returns the TGID of tid if the cache holds it, without reading.
func (c *TgidCache) Peek(tid int32) (int32, bool) {
	if w := c.slots[uint32(tid)&(tgidSlots-1)].Load(); tid > 0 && w != 0 && int32(w>>32) == tid {
		return int32(uint32(w)), true
	}
	return 0, false
}

// readTgid reads the thread group of tid; 0 if the thread is gone. A
// leader is its own group, which one pidfd_open says; only another
// thread costs a read of /proc/TID/status, several times dearer, which
// the first event of every new process would otherwise pay.
func readTgid(tid int32) int32 {
	if IsLeader(int(tid)) {
		return tid
	}
	st, _ := ReadStatus(int(tid)) // Tgid comes before the lines ok is about
	return int32(st.Tgid)
}

// IsLeader reports whether thread tid leads its thread group: pidfd_open
// without PIDFD_THREAD refuses any other thread (EINVAL). A thread that
// cannot be asked (gone, or a kernel before 5.3) counts as no leader.
func IsLeader(tid int) bool {
	fd, err := unix.PidfdOpen(tid, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}
