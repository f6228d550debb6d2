package fsimpl

import "golang.org/x/sys/unix"

// The *At operations that read or change what a path names. Reads walk
// under FS.mu held for reading; a symlink they follow gets its atime
// updated after (walker.done).

// lookupAt walks at and returns what it names.
//
// Preconditions: fs.mu is held (for writing when w.exclusive).
func (w *walker) lookupAt(at *At) (walked, unix.Errno) {
	r := w.walk(at, at.Flags&AtFollow)
	return r, r.err
}

// read runs fn on what at names under FS.mu held for reading.
func (fs *FS) read(at *At, fn func(c *Cred, r walked) unix.Errno) unix.Errno {
	c := cred(at.Cred)
	w := walker{fs: fs, c: c}
	defer w.done()
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	r, e := w.lookupAt(at)
	if e != 0 {
		return e
	}
	return fn(c, r)
}

// StatAt is fstatat(2) (fs/stat.c:vfs_statx()).
func (fs *FS) StatAt(at *At) (Attr, unix.Errno) {
	var a Attr
	e := fs.read(at, func(_ *Cred, r walked) unix.Errno {
		a = fs.attrLocked(r.n)
		return 0
	})
	return a, e
}

// AccessAt is faccessat2(2) after its flags are read
// (fs/open.c:do_faccessat()): at.Cred carries the ids to check with (the
// real ones unless AT_EACCESS).
func (fs *FS) AccessAt(at *At, mask uint32) unix.Errno {
	if mask&^uint32(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return unix.EINVAL
	}
	return fs.read(at, func(c *Cred, r walked) unix.Errno {
		if mask == unix.F_OK {
			return 0
		}
		return permissionLocked(c, r.n, mask)
	})
}

// StatFsAt is statfs(2): the walk's errors, then the filesystem's numbers.
func (fs *FS) StatFsAt(at *At) (StatFs, unix.Errno) {
	if e := fs.read(at, func(*Cred, walked) unix.Errno { return 0 }); e != 0 {
		return StatFs{}, e
	}
	return fs.StatFs(), 0
}

// ReadlinkAt is readlinkat(2): the target of the symlink at names (its last
// component is never followed); anything else is EINVAL.
func (fs *FS) ReadlinkAt(at *At) (string, unix.Errno) {
	c := cred(at.Cred)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w := walker{fs: fs, c: c, exclusive: true}
	r := w.walk(at, 0)
	if r.err != 0 {
		return "", r.err
	}
	return fs.readlinkLocked(r.n)
}

// SetAttrAt is chmod, chown, truncate and utimensat on a path: SetAttr on
// what at names.
func (fs *FS) SetAttrAt(at *At, in *SetAttrIn) unix.Errno {
	return fs.changeAt(at, func(c *Cred, r walked, ch *changes) unix.Errno {
		if e := fs.setAttrLocked(c, r.n, in, nil); e != 0 {
			return e
		}
		ch.setAttr(r, in.Valid)
		return 0
	})
}

// setAttr records what a setattr of r.n changed: the permissions of the
// entry it was reached by, or its other attributes; and its contents with
// a size.
func (ch *changes) setAttr(r walked, valid uint32) {
	if valid&(SetMode|SetUID|SetGID) != 0 && r.name != "" {
		ch.add(ChangePerms, r.dir, r.name, r.n)
	} else {
		ch.add(ChangeAttr, nil, "", r.n)
	}
	if valid&SetSize != 0 {
		ch.add(ChangeData, nil, "", r.n)
	}
}

// GetXattrAt is getxattr(2) and lgetxattr(2) (AtFollow tells which).
func (fs *FS) GetXattrAt(at *At, name string) ([]byte, unix.Errno) {
	if e := checkXattrName(name); e != 0 {
		return nil, e
	}
	var v []byte
	e := fs.read(at, func(c *Cred, r walked) unix.Errno {
		var e unix.Errno
		v, e = getXattrLocked(c, r.n, name)
		return e
	})
	return v, e
}

// ListXattrAt is listxattr(2) and llistxattr(2).
func (fs *FS) ListXattrAt(at *At) ([]string, unix.Errno) {
	var names []string
	e := fs.read(at, func(c *Cred, r walked) unix.Errno {
		names = listXattrLocked(c, r.n)
		return 0
	})
	return names, e
}

// SetXattrAt is setxattr(2) and lsetxattr(2).
func (fs *FS) SetXattrAt(at *At, name string, value []byte, flags int) unix.Errno {
	if e := checkSetXattr(name, value, flags); e != 0 {
		return e
	}
	return fs.changeAt(at, func(c *Cred, r walked, ch *changes) unix.Errno {
		return ch.attrIf(r.n, fs.setXattrLocked(c, r.n, name, value, flags))
	})
}

// RemoveXattrAt is removexattr(2) and lremovexattr(2).
func (fs *FS) RemoveXattrAt(at *At, name string) unix.Errno {
	if e := checkXattrName(name); e != 0 {
		return e
	}
	return fs.changeAt(at, func(c *Cred, r walked, ch *changes) unix.Errno {
		return ch.attrIf(r.n, fs.removeXattrLocked(c, r.n, name))
	})
}

// changeAt runs fn, which records what it changes in ch, on what at
// names, under FS.mu held for writing.
func (fs *FS) changeAt(at *At, fn func(c *Cred, r walked, ch *changes) unix.Errno) unix.Errno {
	c := cred(at.Cred)
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w := walker{fs: fs, c: c, exclusive: true}
	r, e := w.lookupAt(at)
	if e != 0 {
		return e
	}
	return fn(c, r, &ch)
}

// attrIf records a change of n's attributes when e is success, and
// returns e.
func (ch *changes) attrIf(n *inode, e unix.Errno) unix.Errno {
	if e == 0 {
		ch.add(ChangeAttr, nil, "", n)
	}
	return e
}
