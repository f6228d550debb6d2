package fsimpl

import "golang.org/x/sys/unix"

// OpenAt is openat(2) of a regular file, for a door that hands the File's
// descriptor to another process (handOut: see HandOut). The walk and the
// open or creation happen under one hold of FS.mu, in the order of
// fs/namei.c:path_openat(): open_last_lookups(), lookup_open(), do_open().
// mode is the caller's, before its umask.
//
// What only the kernel can open steps aside: directories, FIFOs, sockets
// and devices (a served descriptor must be a regular file), and a setuid
// or setgid file opened for writing when handOut is set: a write may clear
// those bits (file_remove_privs(), with the writer's credentials at write
// time), which the backing file does not always carry.
func (fs *FS) OpenAt(at *At, flags int, mode uint32, handOut bool) (*File, unix.Errno) {
	c := cred(at.Cred)
	if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		// fs/open.c:build_open_flags(), before any lookup.
		return nil, unix.EINVAL
	}
	creat := flags&unix.O_CREAT != 0
	follow := AtFollow
	if flags&unix.O_NOFOLLOW != 0 || flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		follow = 0
	}
	var ch changes
	defer func() { fs.publish(c.Door, ch) }()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w := walker{fs: fs, c: c, exclusive: true}
	var r walked
	if creat {
		// open_last_lookups() refuses a trailing slash with EISDIR once
		// the parent walk succeeded, before it looks at the last
		// component, even a symlink it would follow: so the parent
		// walk comes first, and the link is followed after.
		r = w.walk(at, atParent)
		if e := openSlashed(r); e != 0 {
			return nil, e
		}
		if follow != 0 && r.n != nil && r.n.isLink() {
			w.links = 0
			r = w.walk(at, follow)
			// Again for the last component of the link's target
			// ("dir/new/").
			if e := openSlashed(r); e != 0 {
				return nil, e
			}
		}
		switch {
		case r.err != 0 && !(r.err == unix.ENOENT && r.name != ""):
			return nil, r.err
		case r.n != nil && flags&unix.O_EXCL != 0:
			return nil, unix.EEXIST
		case r.n != nil && r.n.isDir():
			return nil, unix.EISDIR
		case r.n != nil && r.n.isLink():
			// O_NOFOLLOW left it unfollowed: may_open() refuses it.
			return nil, unix.ELOOP
		case r.n != nil && !r.n.isReg():
			// do_open(): an existing name of any type opened with
			// O_CREAT passes may_create_in_sticky() (createLocked
			// makes the check for regular files).
			if e := fs.mayCreateInStickyLocked(c, r.dir, r.n); e != 0 {
				return nil, e
			}
		}
	} else {
		r = w.walk(at, follow)
		if r.err != 0 {
			return nil, r.err
		}
		if r.n.isLink() {
			// An unfollowed symlink: do_open() checks O_DIRECTORY
			// before may_open() refuses the link.
			if flags&unix.O_DIRECTORY != 0 {
				return nil, unix.ENOTDIR
			}
			return nil, unix.ELOOP
		}
	}
	if r.n != nil && !r.n.isReg() {
		// do_open() and may_open() still decide the errno; what
		// passes them only the kernel can open.
		if _, e := fs.openLocked(c, r.n, flags, -1); e != unix.EINVAL {
			return nil, e
		}
		return nil, StepAside
	}
	if r.n != nil && handOut && accWrites(flags) && r.n.mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		// The kernel's FUSE path keeps the rule; what the FUSE door
		// cached may predate writes through served descriptors.
		ch.add(ChangeAttr, nil, "", r.n)
		return nil, StepAside
	}
	var f *File
	var e unix.Errno
	if creat {
		var n *inode
		n, f, e = fs.createLocked(c, r.dir, r.name, flags, mode&^at.Umask&0o7777)
		if e != 0 {
			return nil, e
		}
		if f.Created {
			ch.add(ChangeNew, r.dir, r.name, n)
		}
	} else if f, e = fs.openLocked(c, r.n, flags, -1); e != 0 {
		return nil, e
	}
	if handOut {
		handOutLocked(f)
		fs.viewInoLocked(f.n)
	}
	switch {
	case f.Created:
	case flags&unix.O_TRUNC != 0:
		ch.add(ChangeData, nil, "", f.n)
	case accWrites(flags):
		ch.add(ChangeAttr, nil, "", f.n)
	}
	return f, 0
}

// openSlashed is the EISDIR of an O_CREAT open of "name/" whose parent
// walk succeeded.
func openSlashed(r walked) unix.Errno {
	if r.slashed && r.name != "" && (r.err == 0 || r.err == unix.ENOENT || r.lastLookup) {
		return unix.EISDIR
	}
	return 0
}
