package fsimpl

import "golang.org/x/sys/unix"

// The *At operations that create and remove names. Each walks its paths
// and makes its change under one hold of FS.mu for writing, so no other
// operation can come between the walk and the change. The order of the
// checks, and so of the errnos, is that of fs/namei.c: the parent walk
// (filename_parentat()), then the last component, then may_create() or
// may_delete() and the filesystem.

// parentOf walks at to the directory holding its last component, for a
// call that creates or removes that name: a missing last component is
// fine, any other error is the call's. A last "." or ".." is kept as the
// name (the single-name checks refuse it with the errno the kernel gives
// for a last component that is not LAST_NORM). A path that names the
// starting directory itself has no name here: its last component lies
// above, where the kernel's answer depends on the mount (EEXIST, EBUSY),
// so the call steps aside.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) parentOf(c *Cred, at *At) (walked, unix.Errno) {
	w := walker{fs: fs, c: c, exclusive: true}
	r := w.walk(at, at.Flags&AtFollow|atParent)
	if r.err != 0 && !(r.err == unix.ENOENT && r.name != "") {
		return r, r.err
	}
	if r.dot != "" {
		r.name = r.dot
		return r, 0
	}
	if r.name == "" {
		return r, StepAside
	}
	return r, 0
}

// createAt is the part common to mkdirat, mknodat and symlinkat once the
// parent is known: the name must be free, and a trailing slash is only
// for directories.
func createAt(r walked, dirOK bool) unix.Errno {
	if r.n != nil {
		return unix.EEXIST
	}
	if r.slashed && !dirOK {
		return unix.ENOENT
	}
	return 0
}

// createNameAt is what mkdirat, mknodat and symlinkat share around the
// inode each makes with mk: the parent walk, the checks on the new name
// (dirOK: a trailing slash is allowed), and the change it reports.
func (fs *FS) createNameAt(at *At, dirOK bool, mk func(c *Cred, dir *inode, name string) (*inode, unix.Errno)) (Attr, unix.Errno) {
	c := cred(at.Cred)
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	r, e := fs.parentOf(c, at)
	if e != 0 {
		return Attr{}, e
	}
	if e := createAt(r, dirOK); e != 0 {
		return Attr{}, e
	}
	n, e := mk(c, r.dir, r.name)
	if e != 0 {
		return Attr{}, e
	}
	ch.add(ChangeNew, r.dir, r.name, n)
	return fs.entryLocked(c, n), 0
}

// MkdirAt is mkdirat(2) (fs/namei.c:do_mkdirat()). mode is the caller's,
// before its umask.
func (fs *FS) MkdirAt(at *At, mode uint32) (Attr, unix.Errno) {
	return fs.createNameAt(at, true, func(c *Cred, dir *inode, name string) (*inode, unix.Errno) {
		return fs.mkdirLocked(c, dir, name, mode&(0o777|unix.S_ISVTX)&^at.Umask)
	})
}

// MknodAt is mknodat(2) (fs/namei.c:do_mknodat()). mode holds the type
// (0 for a regular file) and the permission bits before the umask.
func (fs *FS) MknodAt(at *At, mode uint32, rdev uint64) (Attr, unix.Errno) {
	mode, e := mknodMode(mode)
	if e != 0 {
		return Attr{}, e
	}
	mode &^= at.Umask & 0o7777
	return fs.createNameAt(at, false, func(c *Cred, dir *inode, name string) (*inode, unix.Errno) {
		return fs.mknodLocked(c, dir, name, mode, rdev)
	})
}

// SymlinkAt is symlinkat(2): a link to target named by at.
func (fs *FS) SymlinkAt(target string, at *At) (Attr, unix.Errno) {
	// do_symlinkat() copies the target with getname() before the walk:
	// an empty one is ENOENT there.
	if e := checkSymlinkTarget(target); e != 0 {
		return Attr{}, e
	}
	return fs.createNameAt(at, false, func(c *Cred, dir *inode, name string) (*inode, unix.Errno) {
		return fs.symlinkLocked(c, dir, name, target)
	})
}

// LinkAt is linkat(2) (fs/namei.c:do_linkat()): the inode that old names
// (a symlink in its last component followed with AtFollow in old.Flags)
// gets the name that new names.
func (fs *FS) LinkAt(old, new *At) (Attr, unix.Errno) {
	c := cred(old.Cred)
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w := walker{fs: fs, c: c, exclusive: true}
	o := w.walk(old, old.Flags&AtFollow)
	if o.err != 0 {
		return Attr{}, o.err
	}
	r, e := fs.parentOf(c, new)
	if e != 0 {
		return Attr{}, e
	}
	if e := createAt(r, false); e != 0 {
		return Attr{}, e
	}
	if e := fs.linkLocked(c, o.n, r.dir, r.name); e != 0 {
		return Attr{}, e
	}
	ch.add(ChangeNew, r.dir, r.name, o.n)
	ch.add(ChangeAttr, nil, "", o.n)
	return fs.entryLocked(c, o.n), 0
}

// UnlinkAt is unlinkat(2): rmdir with rmdir set (fs/namei.c:do_rmdir()),
// unlink otherwise (do_unlinkat()).
func (fs *FS) UnlinkAt(at *At, rmdir bool) unix.Errno {
	c := cred(at.Cred)
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	r, e := fs.parentOf(c, at)
	if e != 0 {
		return e
	}
	if r.n == nil {
		return unix.ENOENT
	}
	if !rmdir && r.slashed {
		// do_unlinkat(): "name/" must be a directory, which unlink
		// cannot remove.
		if r.n.isDir() {
			return unix.EISDIR
		}
		return unix.ENOTDIR
	}
	n, e := fs.removeLocked(c, r.dir, r.name, rmdir)
	if e != 0 {
		return e
	}
	ch.add(ChangeGone, r.dir, r.name, n)
	return 0
}

// RenameAt is renameat2(2) with both paths in this filesystem
// (fs/namei.c:do_renameat2()): both parents are walked first, then the old
// name is looked up (missing: ENOENT), then the new one; an error looking
// up either last component waits its turn. RENAME_WHITEOUT is taken as
// Rename takes it.
func (fs *FS) RenameAt(old, new *At, flags uint32) unix.Errno {
	c := cred(old.Cred)
	if flags&^(RenameNoReplace|RenameExchange|renameWhiteout) != 0 {
		return unix.EINVAL
	}
	if flags&RenameExchange != 0 && flags&(RenameNoReplace|renameWhiteout) != 0 {
		return unix.EINVAL
	}
	exchange := flags&RenameExchange != 0
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	o, oe := fs.parentOf(c, old)
	if oe != 0 && !o.lastLookup {
		return oe
	}
	n, ne := fs.parentOf(c, new)
	if ne != 0 && !n.lastLookup {
		return ne
	}
	// do_renameat2(): a dot on either side is refused before any lookup.
	switch {
	case o.dot != "":
		return unix.EBUSY
	case n.dot != "" && flags&RenameNoReplace != 0:
		return unix.EEXIST
	case n.dot != "":
		return unix.EBUSY
	}
	switch {
	case oe != 0:
		return oe
	case o.n == nil:
		return unix.ENOENT
	case ne != 0:
		return ne
	case exchange && n.n == nil:
		return unix.ENOENT
	case flags&RenameNoReplace != 0 && n.n != nil:
		return unix.EEXIST
	}
	// A trailing slash on either name needs a directory to move
	// (do_renameat2(): "if (!d_is_dir(old_dentry)) ... -ENOTDIR").
	if !o.n.isDir() && (o.slashed || n.slashed && !exchange) {
		return unix.ENOTDIR
	}
	if exchange && n.slashed && !n.n.isDir() {
		return unix.ENOTDIR
	}
	if e := fs.renameLocked(c, o.dir, o.name, n.dir, n.name, flags); e != 0 {
		return e
	}
	ch.add(ChangeEntry, o.dir, o.name, nil)
	ch.add(ChangeEntry, n.dir, n.name, nil)
	ch.add(ChangeAttr, nil, "", o.n)
	if n.n != nil {
		ch.add(ChangeAttr, nil, "", n.n)
	}
	return 0
}
