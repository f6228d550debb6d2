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

// onOwnChange drops the cached listing of a directory listed through this
// door when a change of its own attributes through this door (chmod,
// chown, utimes, xattrs) moves its ctime: that moves neither its mtime
// nor its i_version, so the kernel would go on serving the listing from
// its pages, and the next listing would not update the atime that
// relatime says it should (fsimpl.ReadDir). Only fsimpl's attribute
// changes are published for this door; names are rawFS.namesLeft's.
func (s *Server) onOwnChange(from fsimpl.Door, changes []fsimpl.Change) {
	if from != fsimpl.DoorFUSE {
		return // onChange's
	}
	for _, c := range changes {
		if c.Kind == fsimpl.ChangeAttr || c.Kind == fsimpl.ChangePerms {
			s.raw.dropListing(c.Ino)
		}
	}
}
