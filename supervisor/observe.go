package supervisor

import (
	"time"

	"github.com/btfuse/btfuse/shmring"
)

// observe reports an answered notification to the Observer: the syscall,
// the thread, the path argument it read (if any), how it was answered and
// how long that took. It does not allocate.
func (s *Supervisor) observe(c *call, r result, start time.Time) {
	ev := shmring.Event{
		Op:      shmring.SyscallOp(c.n.Data.Nr),
		Door:    shmring.DoorRun,
		Outcome: shmring.Served,
		Tid:     int32(c.tid),
		Path:    c.pathArg,
		Latency: time.Since(start),
	}
	switch {
	case r.cont:
		ev.Outcome = shmring.Passthrough
	case r.err != 0:
		ev.Outcome, ev.Errno = shmring.Error, r.err
	}
	s.obs.Observe(ev)
}

// Listeners is the number of supervised process trees being served.
func (s *Supervisor) Listeners() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners)
}
