package fuseserve

import "github.com/btfuse/btfuse/fsimpl"

// onChange is fsimpl's change feed for the changes made through other
// doors: it drops what the kernel may have cached about them, before the
// operation that made them returns.
func (s *Server) onChange(_ fsimpl.Door, changes []fsimpl.Change) {
	for _, c := range changes {
		switch c.Kind {
		case fsimpl.ChangeNew:
			s.InvalNewEntry(c.Dir, c.Name)
			s.InvalInode(c.Dir)
		case fsimpl.ChangeGone:
			s.NotifyDelete(c.Dir, c.Ino, c.Name)
			s.InvalInode(c.Dir)
			s.InvalInode(c.Ino)
		case fsimpl.ChangeEntry:
			s.InvalEntry(c.Dir, c.Name)
			s.InvalInode(c.Dir)
		case fsimpl.ChangeAttr:
			s.InvalInode(c.Ino)
		case fsimpl.ChangePerms:
			s.InvalPerms(c.Dir, c.Name, c.Ino)
		case fsimpl.ChangeData:
			s.InvalContent(c.Ino)
		}
	}
}
