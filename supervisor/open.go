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
// mount (fsimpl.OpenAt) and installs the backing file into the target.
// Directories, FIFOs, devices and sockets, O_PATH and O_TMPFILE go to the
// kernel (CONTINUE), which opens them through the FUSE door: a directory
// descriptor is then a real FUSE directory, so getdents64, fchdir, fstat
// and *at() relative to it work natively or through /proc/TID/fd/N.
func (c *call) open(dirfd int32, pathAddr uint64, flags int, mode uint32, _ int) result {
	if flags&(unix.O_PATH|oTmpfile) != 0 {
		return cont()
	}
	at, r, ok := c.at(dirfd, pathAddr, 0)
	if !ok {
		return r
	}
	// Creating or truncating changes the filesystem: not for a target
	// that is gone (the path may even have been read from a process that
	// reused its TID). A plain open changes nothing, and the ADDFD that
	// installs it fails on a notification no longer pending.
	if flags&(unix.O_CREAT|unix.O_TRUNC) != 0 && !c.valid() {
		return fail(unix.ENOENT)
	}
	tgid := c.cred.tgid
	if tgid == 0 {
		tgid = c.tid
	}
	slot, r, ok := c.fdRoom(tgid, flags)
	if !ok {
		return r
	}
	c.waitBegin()
	f, e := c.s.fs.OpenAt(at, flags, mode, true)
	c.waitEnd()
	if e != 0 {
		if slot >= 0 {
			c.s.slots.release(tgid, slot, false)
		}
		return fromErrno(e)
	}
	c.rememberPath(uint64(f.Ino), at.Mount, at.Path)
	return c.install(f, tgid, slot, flags)
}

// fdRoom finds the descriptor number an open will take before the open
// changes anything, as fs/open.c:do_sys_openat2() reserves one with
// get_unused_fd_flags() before do_filp_open(): a full table is EMFILE, and
// no file is created or truncated (nor is a missing one ENOENT). It
// returns a slot of the reserved range to install at, or -1 for the
// lowest free number; ok false: answer r instead.
//
// The supervisor cannot reserve a number in another process (an ADDFD'd
// placeholder could not be taken back if the open then failed), so it
// proves there is room instead:
//   - A slot of the range under the target's current RLIMIT_NOFILE is
//     room: it was free at the probe, and the range's margin keeps the
//     target's own lowest-free allocations off it (slotTable).
//   - Without one, /proc/TID/fd shows whether a number under the limit
//     is free. That is exact for a target whose table no other thread
//     shares: its only thread waits in this open, so nothing can take the
//     number before the install. Where other threads share it, one of
//     them may take the last number in between; the kernel would then
//     have failed whichever open came second, so a create or truncate
//     there is left to the kernel (CONTINUE, through the FUSE mount),
//     which reserves first. A plain open changes nothing, so losing that
//     race only makes it EMFILE, which the kernel could also answer.
//
// A limit the supervisor cannot read (prlimit refused) leaves the open
// as before: installed at a slot or the lowest free number.
func (c *call) fdRoom(tgid, flags int) (slot int, r result, ok bool) {
	s := c.s
	slot = -1
	if c.l.size > 0 {
		slot = s.slots.acquire(tgid, c.tid, s.self, c.l.base, c.l.size, c.l.fd, c.servedFd)
	}
	var rl unix.Rlimit
	if unix.Prlimit(tgid, unix.RLIMIT_NOFILE, nil, &rl) != nil {
		return slot, result{}, true
	}
	if slot >= 0 && uint64(slot) < rl.Cur {
		return slot, result{}, true
	}
	if slot >= 0 {
		s.slots.release(tgid, slot, false)
		slot = -1
	}
	room, shared, e := fdTableRoom(c.tid, tgid, rl.Cur)
	switch {
	case e != 0:
		return -1, cont(), false
	case !room:
		return -1, fail(unix.EMFILE), false
	case shared && flags&(unix.O_CREAT|unix.O_TRUNC) != 0:
		return -1, cont(), false
	}
	return -1, result{}, true
}

// install hands f's backing file to the target at slot of its reserved
// range (fdRoom; -1: the lowest free number) and answers the notification
// with that number (ADDFD with SEND, signals blocked around it: an
// interrupted ADDFD|SEND would make the target's syscall return 0). Once
// installed, f is held until the target closes its descriptor (watch.go);
// otherwise it is released.
func (c *call) install(f *fsimpl.File, tgid, slot, flags int) result {
	s := c.s
	a := notifAddfd{ID: c.n.ID, Srcfd: uint32(f.Fd), Flags: unix.SECCOMP_ADDFD_FLAG_SEND}
	if flags&unix.O_CLOEXEC != 0 {
		a.NewfdFlags = unix.O_CLOEXEC
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
		s.slots.release(tgid, slot, e == 0 && fd == slot)
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

// servedFd reports whether descriptor fd of the target holds a served file.
func (c *call) servedFd(fd int) bool {
	_, found := c.fdIno(int32(fd))
	return found
}
