package supervisor

import (
	"time"

	"github.com/btfuse/btfuse/event"
)

// observe reports an answered notification to the Observer: the syscall,
// the thread, the path argument it read (if any), how it was answered and
// how long that took. It does not allocate.
func (s *Supervisor) observe(c *call, r result, start time.Time) {
	ev := event.Event{
		Op:      opOf(c.n.Data.Nr),
		Door:    event.DoorRun,
		Outcome: event.Served,
		Tid:     int32(c.tid),
		Path:    c.pathArg,
		Latency: time.Since(start),
	}
	// Known already, or in the supervisor's cache (which execChange
	// fills): the observer need not read /proc for it.
	switch {
	case c.cred != nil:
		ev.Tgid = int32(c.cred.tgid)
	case c.tgid != 0:
		ev.Tgid = int32(c.tgid)
	default:
		ev.Tgid = s.tgids.Lookup(int32(c.tid))
	}
	switch {
	case r.cont:
		ev.Outcome = event.Passthrough
	case r.err != 0:
		ev.Outcome, ev.Errno = event.Classify(ev.Op, r.err), r.err
	}
	if c.fault != nil {
		c.faultEvent(&ev)
	}
	s.obs.Observe(ev)
}

// Listeners is the number of supervised process trees being served.
func (s *Supervisor) Listeners() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners)
}
