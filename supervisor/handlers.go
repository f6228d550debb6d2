package supervisor

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// dispatch answers one notification.
func (s *Supervisor) dispatch(c *call) {
	var start time.Time
	if s.obs != nil {
		start = time.Now()
	}
	s.creds.seen(c.tid)
	r := answer(c)
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

// invalEntry tells the FUSE door that name in parent changed (renamed
// away or over).
func (s *Supervisor) invalEntry(parent fsimpl.Ino, name string) {
	if s.inval != nil {
		s.inval.InvalEntry(parent, name)
		s.inval.InvalInode(parent)
	}
}

// invalNew tells the FUSE door that name was created in parent.
func (s *Supervisor) invalNew(parent fsimpl.Ino, name string) {
	if s.inval != nil {
		s.inval.InvalNewEntry(parent, name)
		s.inval.InvalInode(parent)
	}
}

// invalDelete tells the FUSE door that name left parent.
func (s *Supervisor) invalDelete(parent, child fsimpl.Ino, name string) {
	if s.inval != nil {
		s.inval.NotifyDelete(parent, child, name)
		s.inval.InvalInode(parent)
		s.inval.InvalInode(child)
	}
}

func (s *Supervisor) invalInode(ino fsimpl.Ino) {
	if s.inval != nil {
		s.inval.InvalInode(ino)
	}
}

func (s *Supervisor) invalPerms(parent fsimpl.Ino, name string, ino fsimpl.Ino) {
	if s.inval != nil {
		s.inval.InvalPerms(parent, name, ino)
	}
}

func (s *Supervisor) invalContent(ino fsimpl.Ino) {
	if s.inval != nil {
		s.inval.InvalContent(ino)
	}
}
