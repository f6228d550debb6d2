package fsimpl

import "golang.org/x/sys/unix"

// renameWhiteout is RENAME_WHITEOUT: leave a 0:0 character device (an
// overlayfs whiteout) where the source was.
const renameWhiteout = unix.RENAME_WHITEOUT

// Rename implements rename(2) and renameat2(2) flags RENAME_NOREPLACE,
// RENAME_EXCHANGE and RENAME_WHITEOUT. The order of the checks, and so of
// the errnos, is fs/namei.c:do_renameat2() then vfs_rename() then
// mm/shmem.c:shmem_rename2().
func (fs *FS) Rename(c *Cred, oldParent Ino, oldName string, newParent Ino, newName string, flags uint32) unix.Errno {
	c = cred(c)
	if flags&^(RenameNoReplace|RenameExchange|renameWhiteout) != 0 {
		return unix.EINVAL
	}
	if flags&(RenameNoReplace|renameWhiteout) != 0 && flags&RenameExchange != 0 {
		return unix.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	odir, e := fs.parentLocked(c, oldParent, oldName)
	if e != 0 {
		return e
	}
	ndir, e := fs.parentLocked(c, newParent, newName)
	if e != 0 {
		return e
	}
	return fs.renameLocked(c, odir, oldName, ndir, newName, flags)
}

// renameLocked is Rename once both parents are known and flags checked.
//
// Preconditions: fs.mu is held for writing; odir and ndir passed
// parentLocked.
func (fs *FS) renameLocked(c *Cred, odir *inode, oldName string, ndir *inode, newName string, flags uint32) unix.Errno {
	exchange := flags&RenameExchange != 0
	if isDot(oldName) {
		return unix.EBUSY
	}
	if isDot(newName) {
		if flags&RenameNoReplace != 0 {
			return unix.EEXIST
		}
		return unix.EBUSY
	}
	old := odir.dir.lookup(oldName)
	if old == nil {
		return unix.ENOENT
	}
	tgt := ndir.dir.lookup(newName)
	fs.viewInoLocked(old, tgt, odir, ndir)
	fs.viewDentLocked(odir, oldName)
	fs.viewDentLocked(ndir, newName)
	if flags&RenameNoReplace != 0 && tgt != nil {
		return unix.EEXIST
	}
	if exchange && tgt == nil {
		return unix.ENOENT
	}
	// The source must not be an ancestor of the target, nor the target of
	// the source (the "trap" of fs/namei.c:lock_rename()).
	if old.isDir() && isAncestorLocked(old, ndir) {
		return unix.EINVAL
	}
	if tgt != nil && tgt.isDir() && isAncestorLocked(tgt, odir) {
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	}
	if old == tgt {
		return 0 // vfs_rename(): source == target
	}
	if e := fs.renameMayLocked(c, odir, old, ndir, tgt, exchange); e != 0 {
		return e
	}
	t := now()
	if exchange {
		exchangeLocked(odir, oldName, old, ndir, newName, tgt, t)
		return 0
	}
	if tgt != nil && tgt.isDir() && tgt.dir.live != 0 {
		return unix.ENOTEMPTY
	}
	if flags&renameWhiteout != 0 && fs.freeISpaceLocked() < bogoInodeSize {
		return unix.ENOSPC // mm/shmem.c:shmem_whiteout would fail
	}
	if tgt != nil {
		fs.unlinkLocked(ndir, newName, tgt, t)
		if old.isDir() {
			// The target directory's ".." link to ndir is replaced
			// by old's; old's link to odir goes.
			ndir.nlink++
			odir.nlink--
		}
	} else if old.isDir() {
		odir.nlink--
		ndir.nlink++
	}
	// The moved entry becomes the newest in ndir, after the whiteout:
	// fs/dcache.c:__d_move() puts the dentry at the head of d_children,
	// which tmpfs readdir walks first. tmpfs also hands it the replaced
	// entry's offset (fs/libfs.c:simple_offset_rename()), so a walk that
	// was about to return the replaced entry resumes at the head
	// (offset_dir_lookup()) and returns entries again. Here a cookie is a
	// position; a fresh one keeps the entry behind every walk in progress.
	odir.dir.remove(oldName)
	if flags&renameWhiteout != 0 {
		fs.newChildLocked(c, odir, oldName, unix.S_IFCHR, 0)
	}
	ndir.dir.add(newName, old)
	if old.isDir() {
		old.dir.parent = ndir
	}
	old.ctime = t
	odir.mtime, odir.ctime = t, t
	ndir.mtime, ndir.ctime = t, t
	return 0
}

// renameMayLocked is the permission part of fs/namei.c:vfs_rename():
// may_delete on the source, may_create or may_delete on the target, and
// write permission on a directory that changes parent (its ".." changes).
//
// Preconditions: fs.mu is held.
func (fs *FS) renameMayLocked(c *Cred, odir, old, ndir, tgt *inode, exchange bool) unix.Errno {
	isDir := old.isDir()
	if e := mayDeleteLocked(c, odir, old, isDir); e != 0 {
		return e
	}
	newIsDir := false
	if tgt == nil {
		if e := mayCreateLocked(c, ndir); e != 0 {
			return e
		}
	} else {
		newIsDir = tgt.isDir()
		want := isDir
		if exchange {
			want = newIsDir
		}
		if e := mayDeleteLocked(c, ndir, tgt, want); e != 0 {
			return e
		}
	}
	if odir != ndir {
		if isDir {
			if e := permissionLocked(c, old, mayWrite); e != 0 {
				return e
			}
		}
		if exchange && newIsDir {
			if e := permissionLocked(c, tgt, mayWrite); e != 0 {
				return e
			}
		}
	}
	return 0
}

// exchangeLocked swaps two entries (fs/libfs.c:simple_rename_exchange):
// link counts move with a directory that changes parent, and both names are
// bound afresh, oldName's first, as fs/dcache.c:__d_move() puts the target
// and then the moved dentry at the head of d_children. tmpfs keeps the two
// offsets (fs/libfs.c:simple_offset_rename_exchange()); fresh cookies are
// what keep both behind a walk in progress here, as the head does there.
//
// Preconditions: fs.mu is held for writing; the checks have passed.
func exchangeLocked(odir *inode, oldName string, old *inode, ndir *inode, newName string, tgt *inode, t unix.Timespec) {
	if odir != ndir && old.isDir() != tgt.isDir() {
		if old.isDir() {
			odir.nlink--
			ndir.nlink++
		} else {
			ndir.nlink--
			odir.nlink++
		}
	}
	odir.dir.remove(oldName)
	ndir.dir.remove(newName)
	odir.dir.add(oldName, tgt)
	ndir.dir.add(newName, old)
	if old.isDir() {
		old.dir.parent = ndir
	}
	if tgt.isDir() {
		tgt.dir.parent = odir
	}
	old.ctime, tgt.ctime = t, t
	odir.mtime, odir.ctime = t, t
	ndir.mtime, ndir.ctime = t, t
}

// isAncestorLocked reports whether a is d or one of d's ancestors.
//
// Preconditions: fs.mu is held; a and d are directories.
func isAncestorLocked(a, d *inode) bool {
	for {
		if d == a {
			return true
		}
		if d.dir == nil || d.dir.parent == d {
			return false
		}
		d = d.dir.parent
	}
}
