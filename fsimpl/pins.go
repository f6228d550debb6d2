package fsimpl

// Pins: a regular file that a process opened by itself, from the metadata
// view, without asking for a File (the fast lane's in-process opens). The
// process's library publishes the inode numbers it holds open that way in
// shared memory (a pin), and fsimpl asks its Pinner before it frees an
// inode, as it looks at open Files (inode.opens): a pinned inode that lost
// its last link stays, with its metadata (link count 0, mode, owner, the
// ctime of the unlink), in the table and in the view, as the kernel keeps
// an unlinked inode that a descriptor still refers to.
//
// Ordering (Dekker's, against the view's seqlock): the library reads the
// view's sequence (even), walks, stores the pin, makes a full fence, and
// reads the sequence again; the open takes effect only when it did not
// move. fsimpl makes the sequence odd (viewWriteLocked) before it asks the
// Pinner, whose reads of the pins are sequentially consistent atomics.
// So either the Pinner sees the pin, or the library sees the sequence move
// and lets go of its pin without opening. Inode numbers are never reused
// (FS.nextIno only grows), so a backing name found in the view names that
// inode's file or none.

// Pinner reports whether some process holds ino open without a File. It is
// called with FS.mu held and must not call back into the FS.
type Pinner interface {
	Pinned(ino Ino) bool
}

// SetPinner sets the Pinner that maybeFreeLocked asks (one per FS: the
// fast lane's server).
func (fs *FS) SetPinner(p Pinner) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.pinner = p
}

// pinnedLocked reports whether n must stay because a Pinner holds it, and
// then remembers it, for Unpinned and RecheckPins to free later.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) pinnedLocked(n *inode) bool {
	if fs.pinner == nil || fs.view == nil || !n.isReg() {
		return false
	}
	// The sequence goes odd before the pins are read (see above).
	fs.view.writeLocked()
	if !fs.pinner.Pinned(n.ino) {
		return false
	}
	if fs.pinHeld == nil {
		fs.pinHeld = make(map[Ino]*inode)
	}
	fs.pinHeld[n.ino] = n
	return true
}

// Unpinned is told that a pin on ino went away after fsimpl had kept the
// inode for it: the inode is freed now unless something else holds it.
func (fs *FS) Unpinned(ino Ino) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := fs.pinHeld[ino]; n != nil {
		delete(fs.pinHeld, ino)
		fs.maybeFreeLocked(n)
	}
}

// RecheckPins looks at every inode kept for a pin again (a Pinner's
// process is gone, and its pins with it).
func (fs *FS) RecheckPins() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	held := make([]*inode, 0, len(fs.pinHeld))
	for ino, n := range fs.pinHeld {
		held = append(held, n)
		delete(fs.pinHeld, ino)
	}
	for _, n := range held {
		fs.maybeFreeLocked(n)
	}
}
