package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

// dispatch answers one notification.
func (s *Supervisor) dispatch(c *call) {
	var start time.Time
	if s.obs != nil {
		start = time.Now()
	}
	s.creds.seen(c.tid)
	var r result
	if row := rowOf(c.n.Data.Nr); row != nil && s.faults.Wants(row.fsys) && c.n.Data.Arch == auditArchX8664 {
		if f, ok := c.matchFault(row); ok {
			c.faultBuf = f
			c.fault = &c.faultBuf
		}
	}
	if c.fault != nil {
		r = c.withFault(rowOf(c.n.Data.Nr), c.fault)
	} else {
		r = answer(c)
	}
	s.send(c.l.fd, c.n.ID, r)
	if s.onAnswer != nil {
		s.onAnswer(c.n.Data.Nr, c.pathArg, r)
	}
	if s.obs != nil {
		s.observe(c, r, start)
	}
}

// answer runs the handler of c's syscall. A notification of another
// architecture (the filter refuses those, so none should come) gets
// ENOSYS; a syscall without a handler is CONTINUEd.
func answer(c *call) result {
	if c.n.Data.Arch != auditArchX8664 {
		return fail(unix.ENOSYS)
	}
	if row := rowOf(c.n.Data.Nr); row != nil && row.handle != nil {
		return row.handle(c)
	}
	return cont()
}
