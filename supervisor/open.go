package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// oTmpfile is __O_TMPFILE, the bit O_TMPFILE adds to O_DIRECTORY.
const oTmpfile = 0o20000000

// openat2 reads struct open_how; any RESOLVE_* flag goes to the kernel,
// which honours it over the FUSE door.
func (c *call) openat2() result {
	var how struct{ Flags, Mode, Resolve uint64 }
	size := c.arg(3)
	if size < 24 {
		return fail(unix.EINVAL)
	}
	n, e := readMem(c.tid, c.arg(2), asBytes(&how))
	if e != 0 || n != 24 {
		return fail(unix.EFAULT)
	}
	if how.Resolve != 0 || how.Flags>>32 != 0 || size != 24 {
		return cont()
	}
	return c.open(c.fdArg(0), c.arg(1), int(how.Flags), uint32(how.Mode), 0)
}

// open serves open, openat, creat and openat2 of regular files in the
// mount (fs/namei.c:path_openat() over fsimpl) and installs the backing
// file into the target. Directories, FIFOs, devices and sockets, O_PATH
// and O_TMPFILE go to the kernel (CONTINUE), which opens them through the
// FUSE door: a directory descriptor is then a real FUSE directory, so
// getdents64, fchdir, fstat and *at() relative to it work natively or
// through /proc/TID/fd/N.
func (c *call) open(dirfd int32, pathAddr uint64, flags int, mode uint32, _ int) result {
	if flags&(unix.O_PATH|oTmpfile) != 0 {
		return cont()
	}
	if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		// fs/open.c:build_open_flags(), before any lookup.
		return fail(unix.EINVAL)
	}
	wf := walkFollow
	if flags&unix.O_NOFOLLOW != 0 || flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		wf = 0
	}
	// With O_CREAT, fs/namei.c:open_last_lookups() refuses a trailing
	// slash with EISDIR once the parent walk succeeded, before it looks
	// at the last component: even a symlink it would follow. So the
	// parent walk comes first, and the link is followed after.
	first := wf
	if flags&unix.O_CREAT != 0 {
		first = walkLast
	}
	w, cr, r, ok := c.resolvePath(dirfd, pathAddr, first)
	if !ok {
		return r
	}
	if flags&unix.O_CREAT != 0 {
		if w.slashed && w.name != "" && (w.err == 0 || w.err == unix.ENOENT || w.lastLookup) {
			return fail(unix.EISDIR)
		}
		if wf&walkFollow != 0 && w.found && w.attr.Mode&unix.S_IFMT == unix.S_IFLNK {
			if w, cr, r, ok = c.resolvePath(dirfd, pathAddr, wf); !ok {
				return r
			}
		}
	}
	typ := w.attr.Mode & unix.S_IFMT
	if flags&unix.O_CREAT != 0 {
		// fs/namei.c:open_last_lookups() and do_open(): an error walking
		// to the parent comes first; a trailing slash on a plain name is
		// EISDIR before any lookup; an existing name is EEXIST under
		// O_EXCL, then EISDIR if it is a directory.
		if w.slashed && w.name != "" && (w.err == 0 || w.err == unix.ENOENT || w.lastLookup) {
			// Again for the last component of a followed link's
			// target ("dir/new/"), checked the same way.
			return fail(unix.EISDIR)
		}
		if w.err != 0 && !(w.err == unix.ENOENT && w.name != "") {
			return fail(w.err)
		}
		if w.found && flags&unix.O_EXCL != 0 {
			return fail(unix.EEXIST)
		}
		if w.found && typ == unix.S_IFDIR {
			return fail(unix.EISDIR)
		}
		if w.found && typ == unix.S_IFLNK {
			// O_NOFOLLOW left it unfollowed: may_open() refuses it.
			return fail(unix.ELOOP)
		}
	}
	if w.found && typ != unix.S_IFREG && typ != unix.S_IFLNK {
		return cont()
	}
	if w.found && typ == unix.S_IFREG && flags&unix.O_ACCMODE != unix.O_RDONLY &&
		w.attr.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		// A write may clear setuid/setgid (file_remove_privs(), by the
		// writer's credentials at write time, which need not be the
		// opener's). Writes through a served descriptor go to the
		// backing file, which carries the bits only when the daemon
		// runs as root (fsimpl/privs.go), so these opens take the
		// kernel's FUSE path, which keeps the rule in every case. Its
		// cached attributes may predate writes through served
		// descriptors (dropped only at their close): drop them now.
		c.invalInode(w.attr.Ino)
		return cont()
	}
	// Creating or truncating changes the filesystem: not for a target
	// that is gone (the path may even have been read from a process that
	// reused its TID). A plain open changes nothing, and the ADDFD that
	// installs it fails on a notification no longer pending.
	if flags&(unix.O_CREAT|unix.O_TRUNC) != 0 && !c.valid() {
		return fail(unix.ENOENT)
	}
	s := c.s
	var f *fsimpl.File
	var e unix.Errno
	created := false
	switch {
	case flags&unix.O_CREAT != 0:
		if w.err != 0 && w.err != unix.ENOENT {
			return fail(w.err)
		}
		if w.name == "" {
			return fail(unix.EISDIR)
		}
		var a fsimpl.Attr
		a, f, e = s.fs.Create(&cr.fs, w.parent, w.name, flags, mode&^cr.umask&0o7777)
		if e != 0 {
			return fail(e)
		}
		s.fs.Forget(a.Ino, 1)
		created = !w.found
	default:
		if w.err != 0 {
			return fail(w.err)
		}
		if typ == unix.S_IFLNK {
			// An unfollowed symlink: do_open() checks O_DIRECTORY
			// before may_open() refuses the link.
			if flags&unix.O_DIRECTORY != 0 {
				return fail(unix.ENOTDIR)
			}
			return fail(unix.ELOOP)
		}
		f, e = s.fs.Open(&cr.fs, w.attr.Ino, flags)
		if e != 0 {
			return fail(e)
		}
	}
	// A writer handed out makes the FUSE door stop caching the inode's
	// attributes (fsimpl.Attr.Volatile): the target's writes change size
	// and mtime without telling anyone. What the kernel cached before
	// goes now, before the target can write.
	s.fs.HandOut(f)
	switch {
	case created:
		c.invalNew(w.parent, w.name)
	case flags&unix.O_TRUNC != 0:
		c.invalContent(f.Ino)
	case flags&unix.O_ACCMODE != unix.O_RDONLY:
		c.invalInode(f.Ino)
	}
	return c.install(f, cr, flags)
}

// install hands f's backing file to the target at a free slot of its
// reserved range and answers the notification with that number (ADDFD
// with SEND, signals blocked around it: an interrupted ADDFD|SEND would
// make the target's syscall return 0). Once installed, f is held until
// the target closes its descriptor (watch.go); otherwise it is released.
func (c *call) install(f *fsimpl.File, cr *taskCred, flags int) result {
	s := c.s
	tgid := cr.tgid
	if tgid == 0 {
		tgid = c.tid
	}
	a := notifAddfd{ID: c.n.ID, Srcfd: uint32(f.Fd), Flags: unix.SECCOMP_ADDFD_FLAG_SEND}
	if flags&unix.O_CLOEXEC != 0 {
		a.NewfdFlags = unix.O_CLOEXEC
	}
	slot := -1
	if c.l.size > 0 {
		slot = s.slots.acquire(tgid, c.tid, s.self, c.l.base, c.l.size, c.l.fd)
	}
	if slot >= 0 {
		a.Flags |= unix.SECCOMP_ADDFD_FLAG_SETFD
		a.Newfd = uint32(slot)
	}
	c.waitBegin()
	old := sigmaskAll()
	fd, e := notifAddFd(c.l.fd, &a)
	if e == unix.EBADF || e == unix.EMFILE {
		// The slot is past the target's RLIMIT_NOFILE now: take the
		// lowest free descriptor instead.
		a.Flags &^= unix.SECCOMP_ADDFD_FLAG_SETFD
		a.Newfd = 0
		fd, e = notifAddFd(c.l.fd, &a)
	}
	restoreSigmask(old)
	c.waitEnd()
	if slot >= 0 {
		s.slots.release(tgid, slot)
	}
	switch e {
	case 0:
		s.watchServed(tgid, fd, f, flags&(unix.O_WRONLY|unix.O_RDWR) != 0)
		return result{done: true}
	case unix.ENOENT:
		s.fs.Release(f)
		s.stats.Gone.Add(1)
		return result{done: true}
	}
	s.fs.Release(f)
	return fail(e)
}
