package fastlane

import (
	"golang.org/x/sys/unix"
)

// The doorbell (supervisor/doorbell.go): a process's library posts a
// request in its slot and then makes the syscall supervisor.DoorbellNr
// with the session's doorbell id (hdrDoorbell) and the slot's index. The
// supervisor's receiver that gets the notification serves the slot here,
// on the caller's CPU, and its reply ends the call. A request is served
// once: by whoever moves the slot from Request to Busy, the doorbell or
// the session's worker.

// Doorbell results (the library's FL_RING_*): served, or not taken here
// (the worker has the request, or the session is ending), so the library
// waits on the slot's state as without a doorbell. -ENOSYS: this daemon
// does not know the call (the library stops ringing).
const (
	ringServed   = 0
	ringNotTaken = 1
)

// ring answers a doorbell of thread tid (the kernel's word): args[0] is
// the session's doorbell id, args[1] the slot's index.
func (s *Server) ring(tid int, args [6]uint64) int64 {
	if args[0] == 0 || args[0] > 1<<32-1 || args[1] >= NumSlots {
		return -int64(unix.ENOSYS)
	}
	s.mu.Lock()
	ss := s.bells[uint32(args[0])]
	s.mu.Unlock()
	if ss == nil {
		return -int64(unix.ENOSYS)
	}
	b := slotBase(int(args[1]))
	ss.serveMu.Lock()
	defer ss.serveMu.Unlock()
	if ss.stopped.Load() || ss.seg.mem == nil {
		return ringNotTaken
	}
	// The slot's thread is the caller: a TID the library names differs
	// from the kernel's only across pid namespaces, which the channel
	// does not serve (the worker would pass the request).
	if int(int32(ss.seg.load(b+slotTid))) != tid {
		return -int64(unix.ENOSYS)
	}
	if !ss.seg.cas(b+slotState, slotRequest, slotBusy) {
		return ringNotTaken
	}
	ss.finish(b, ss.serveSlot(b))
	return ringServed
}

// ringable gives the session a doorbell id and publishes it in the
// header, where the library reads it at the handshake.
//
// Preconditions: Server.mu is held.
func (ss *session) ringable() {
	s := ss.s
	for range 2 {
		s.lastBell++
		if s.lastBell != 0 && s.bells[s.lastBell] == nil {
			ss.bellID = s.lastBell
			s.bells[ss.bellID] = ss
			ss.seg.store(hdrDoorbell, ss.bellID)
			return
		}
	}
}
