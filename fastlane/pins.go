package fastlane

import (
	"sync"

	"github.com/btfuse/btfuse/fsimpl"
)

// Pins: the inodes a process opened by itself from the metadata view
// (preload/view_open.c). Each such open takes an entry of the segment's
// pin table (hdrPins) and writes the inode's number there; its descriptor
// carries pinID|entry where a channel-opened one carries its File's id,
// so that the descriptor calls (fstat, fchmod, the xattrs...) reach the
// daemon for it as for a File. The library clears the entry when the last
// descriptor on it is closed.
//
// fsimpl asks the server (Pinned) before it frees a regular file (see
// fsimpl/pins.go for the ordering against the view's seqlock). A pin that
// keeps an inode is marked pinHeld in its entry, by compare-and-swap, so
// that the library, which clears the entry with an exchange, knows it must
// tell the daemon: it queues unpinTag|ino in its slot's release queue,
// and the daemon lets fsimpl free the inode then (fsimpl.FS.Unpinned).
// An entry cleared before the mark is not a pin any more, and the mark
// fails. When a session ends, its pins go with it (RecheckPins).
const (
	hdrPins = 1024 // [MaxPins]u64: inode numbers, 0 for a free entry
	MaxPins = 256

	pinHeld  = 1 << 63 // in an entry: the daemon kept the inode for it
	pinID    = 1 << 63 // a descriptor's id: the entry's index in the low bits
	unpinTag = 1 << 62 // a released id: a held pin's inode number in the low bits
)

// pinners are the sessions whose pin tables the server reads; their own
// lock, since fsimpl calls Pinned with FS.mu held (the server's mu is
// taken before FS.mu).
type pinners struct {
	mu   sync.Mutex
	segs map[*session]bool
}

// Pinned implements fsimpl.Pinner.
func (s *Server) Pinned(ino fsimpl.Ino) bool {
	s.pins.mu.Lock()
	defer s.pins.mu.Unlock()
	want := uint64(ino)
	for ss := range s.pins.segs {
		for k := 0; k < MaxPins; k++ {
			off := hdrPins + 8*k
			v := ss.seg.getU64(off)
			if v&^pinHeld != want {
				continue
			}
			if v&pinHeld != 0 || ss.seg.casU64(off, v, v|pinHeld) {
				return true
			}
		}
	}
	return false
}

// addPins makes the server read the session's pin table.
func (s *Server) addPins(ss *session) {
	s.pins.mu.Lock()
	defer s.pins.mu.Unlock()
	if s.pins.segs == nil {
		s.pins.segs = make(map[*session]bool)
	}
	s.pins.segs[ss] = true
}

// dropPins stops reading the session's pin table (before its segment is
// unmapped) and reports whether it was read.
func (s *Server) dropPins(ss *session) bool {
	s.pins.mu.Lock()
	defer s.pins.mu.Unlock()
	had := s.pins.segs[ss]
	delete(s.pins.segs, ss)
	return had
}

// inoOf returns the inode of the descriptor id the library sent: a File's,
// or a pin's.
func (ss *session) inoOf(id uint64) (fsimpl.Ino, bool) {
	if id&pinID == 0 {
		if f := ss.files[id]; f != nil {
			return f.Ino, true
		}
		return 0, false
	}
	k := id &^ pinID
	if k >= MaxPins {
		return 0, false
	}
	v := ss.seg.getU64(hdrPins+8*int(k)) &^ pinHeld
	return fsimpl.Ino(v), v != 0
}
