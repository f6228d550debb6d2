package fsimpl

import "golang.org/x/sys/unix"

// relatimeWindow is how stale an atime may grow before relatime refreshes it
// even when the file was not modified since (fs/inode.c: one day).
const relatimeWindow = 24 * 60 * 60

// atimeNeedsUpdate mirrors fs/inode.c:relatime_need_update(), the default
// mount behaviour (relatime): update when atime is not after mtime or
// ctime, or is a day old.
func atimeNeedsUpdate(n *inode, t unix.Timespec) bool {
	if !tsAfter(n.atime, n.mtime) || !tsAfter(n.atime, n.ctime) {
		return true
	}
	return t.Sec-n.atime.Sec >= relatimeWindow
}

// touchAtimeLocked refreshes the atime of a directory or symlink on access.
// Regular files keep theirs in the backing file, which the kernel updates.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) touchAtimeLocked(n *inode) {
	if n.isReg() {
		return
	}
	if t := now(); atimeNeedsUpdate(n, t) {
		n.atime = t
		fs.viewInoLocked(n)
	}
}

// atimeSettledUntil is the time (seconds of CLOCK_REALTIME) before which
// an access leaves n's atime alone under relatime, 0 when the next access
// updates it: the metadata view lets a reader follow or read a symlink
// without the daemon only until then.
//
// Preconditions: fs.mu is held.
func atimeSettledUntil(n *inode) int64 {
	if !tsAfter(n.atime, n.mtime) || !tsAfter(n.atime, n.ctime) {
		return 0
	}
	return n.atime.Sec + relatimeWindow
}

// touchAtime is touchAtimeLocked for callers without the lock; it takes the
// write lock only when relatime asks for an update, so repeated reads of an
// unchanged directory stay on the read lock.
func (fs *FS) touchAtime(ino Ino) {
	fs.mu.RLock()
	n, e := fs.getLocked(ino)
	need := e == 0 && !n.isReg() && atimeNeedsUpdate(n, now())
	fs.mu.RUnlock()
	if !need {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n, e := fs.getLocked(ino); e == 0 {
		fs.touchAtimeLocked(n)
	}
}
