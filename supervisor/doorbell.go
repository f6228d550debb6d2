package supervisor

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The fast lane's doorbell. The library posts a request in its slot of the
// channel and then makes the syscall DoorbellNr, which only a fast filter
// notifies (BuildFastFilter). The receiver that gets the notification
// serves the slot through the fast lane's hook (OnDoorbell) and replies, so
// a mutation's round trip is one notification: the kernel switches to the
// receiver and back on the caller's CPU (SYNC_WAKE_UP), where a futex or
// socket wake-up lets the scheduler put the woken thread on the other CPU,
// an inter-processor interrupt that a guest pays dearly for. The reply is
// the hook's result; a process without the hook's answer (another filter,
// a daemon gone, whose listener's holder CONTINUEs the call) gets ENOSYS
// from the kernel, and its library then waits on the slot as before.

// DoorbellNr is the doorbell's syscall number: no kernel assigns it on
// x86_64 (its numbers stay below 512, where x32's, with __X32_SYSCALL_BIT,
// begin), so a call the filter does not notify fails with ENOSYS. The
// library's copy is FL_DOORBELL_NR in fastlane/preload/channel_int.h.
const DoorbellNr = 0xbf1

// DoorbellFunc answers a doorbell rung by thread tid (the kernel's word,
// in the supervisor's pid namespace) with the call's arguments; it returns
// the call's result, >= 0 or -errno.
type DoorbellFunc func(tid int, args [6]uint64) int64

// OnDoorbell sets fn to answer the doorbell; nil removes it (the calls
// then fail with ENOSYS).
func (s *Supervisor) OnDoorbell(fn DoorbellFunc) {
	if fn == nil {
		s.doorbell.Store(nil)
		return
	}
	s.doorbell.Store(&fn)
}

type doorbellHook = atomic.Pointer[DoorbellFunc]

// ring answers a doorbell notification. It is not a served syscall of the
// seccomp lane: no counter, no event (the fast lane reports the call it
// served), no fault rule (the fast lane passes the calls rules name).
// Serving may send invalidations to the FUSE door, which wait on the
// kernel's inode locks: a wait on others, like a mutation's (call.change).
func (s *Supervisor) ring(c *call) {
	resp := notifResp{ID: c.n.ID, Error: -int32(unix.ENOSYS)}
	if fn := s.doorbell.Load(); fn != nil && c.n.Data.Arch == auditArchX8664 {
		c.waitBegin()
		v := (*fn)(c.tid, c.n.Data.Args)
		c.waitEnd()
		if v < 0 {
			resp.Error = int32(v)
		} else {
			resp.Error, resp.Val = 0, v
		}
	}
	for {
		switch e := notifSend(c.l.fd, &resp); e {
		case unix.EINTR:
			continue
		case 0, unix.ENOENT: // ENOENT: the caller is gone
			return
		default:
			s.log.Warn("send doorbell response", "err", e)
			return
		}
	}
}
