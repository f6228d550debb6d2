package fuseserve

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// File locks through the FUSE door are taken on the backing files, where
// they meet the locks that supervised processes take natively on the
// descriptors the supervisor installed in them (the same backing files).
// Left to the kernel, the FUSE door's locks would live on the FUSE inode
// and the two doors would never see each other's: a process on each door
// could hold the same write lock at once.
//
//   - flock(2) is per open file description, that is per FUSE handle: each
//     handle that flocks gets a backing descriptor of its own for it,
//     closed at RELEASE, the last close of the kernel's file. (Not the
//     handle's descriptor: in passthrough mode the kernel may keep that one
//     open as the inode's registered backing file after the handle is gone.)
//   - POSIX (fcntl) locks belong to a lock owner (a process's file table) and
//     an inode, and go when the owner closes any descriptor of the inode.
//     Each (inode, owner) pair gets its own backing descriptor carrying an
//     open file description lock (F_OFD_SETLK): those merge and split within
//     one owner, and conflict with other owners and with the supervised
//     processes' POSIX locks, as POSIX locks do. The descriptor is closed at
//     the owner's FLUSH, which the kernel sends at every close(), and at the
//     RELEASE of any handle the owner locked through. OFD locks taken
//     through this door arrive with the kernel's file as their owner, never
//     flush, and go at that RELEASE, as they should.
//
// FOPEN_NOFLUSH spares a round trip on every close, so it stays on for the
// handles of inodes no one has POSIX-locked through this door. The handles
// opened before an inode's first POSIX lock (or after the set of locked
// inodes was last emptied, at maxFlushInodes) therefore send no FLUSH: the
// locks of owners that locked through them are dropped when such a handle
// is released (its last close) instead of at the owner's first close of
// any descriptor of the inode. Handles opened later flush.
//
// Not kept: deadlock detection (F_SETLKW never answers EDEADLK), and the
// holder's pid in F_GETLK when the holder is another owner of this door
// (the kernel reports -1 for OFD locks; the pid of some other owner of
// the inode is reported instead, or 0).

// lockKey names a lock descriptor: the POSIX locks of one owner on one
// inode, or the flock of one handle (flock set, owner is the handle's Fh).
type lockKey struct {
	ino   fsimpl.Ino
	owner uint64
	flock bool
}

// lockOwner is a backing descriptor that carries locks.
type lockOwner struct {
	key lockKey
	f   *fsimpl.File
	pid uint32 // the owner's process, as the last SETLK named it; guarded by lockTable.mu
}

// maxFlushInodes bounds lockTable.flush; forgetting the set only makes the
// next first lock of an inode take the approximate path again.
const maxFlushInodes = 1 << 16

// lockTable holds the lock descriptors of the door.
type lockTable struct {
	mu     sync.Mutex
	owners map[lockKey]*lockOwner // guarded by mu
	// via lists, per handle, the lock descriptors used through it, to be
	// closed at its release. Guarded by mu.
	via map[uint64][]*lockOwner
	// flush holds the inodes whose new handles must send FLUSH: someone
	// took a POSIX lock on them. Guarded by mu.
	flush  map[fsimpl.Ino]struct{}
	closed bool // guarded by mu; serving has stopped
	done   chan struct{}
}

func newLockTable() lockTable {
	return lockTable{
		owners: map[lockKey]*lockOwner{},
		via:    map[uint64][]*lockOwner{},
		flush:  map[fsimpl.Ino]struct{}{},
		done:   make(chan struct{}),
	}
}

// wantsFlush reports whether a new handle of ino must send FLUSH.
func (t *lockTable) wantsFlush(ino fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.flush[ino]
	return ok
}

// lockOwnerOf returns the lock descriptor k of handle fh, opening it if
// asked (nil when there is none and open is false).
func (r *rawFS) lockOwnerOf(fh uint64, k lockKey, pid uint32, open bool) (*lockOwner, unix.Errno) {
	t := &r.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, unix.ENOTCONN
	}
	o := t.owners[k]
	if o == nil && open {
		// Read and write, so that both lock types are allowed; the
		// kernel already checked the caller's descriptor's mode.
		f, e := r.fs.Open(nil, k.ino, unix.O_RDWR)
		if e != 0 {
			return nil, e
		}
		o = &lockOwner{key: k, f: f}
		t.owners[k] = o
		if !k.flock {
			if len(t.flush) >= maxFlushInodes {
				clear(t.flush)
			}
			t.flush[k.ino] = struct{}{}
		}
	}
	if o == nil {
		return nil, 0
	}
	if pid != 0 {
		o.pid = pid
	}
	if !slices.Contains(t.via[fh], o) {
		// Owners dropped by a FLUSH since go first: a long-lived handle
		// locked through by many short-lived owners keeps a short list.
		t.via[fh] = append(slices.DeleteFunc(t.via[fh], func(x *lockOwner) bool { return t.owners[x.key] != x }), o)
	}
	return o, 0
}

// dropOwner closes the POSIX lock descriptor of (ino, owner), releasing its
// locks.
func (r *rawFS) dropOwner(ino fsimpl.Ino, owner uint64) {
	t := &r.locks
	k := lockKey{ino: ino, owner: owner}
	t.mu.Lock()
	o := t.owners[k]
	delete(t.owners, k)
	t.mu.Unlock()
	if o != nil {
		r.fs.Release(o.f)
	}
}

// releaseLocks closes the lock descriptors used through handle fh, which
// is being released.
func (r *rawFS) releaseLocks(fh uint64) {
	t := &r.locks
	t.mu.Lock()
	list := t.via[fh]
	delete(t.via, fh)
	var drop []*lockOwner
	for _, o := range list {
		// Unless a FLUSH dropped it already (and the owner may have
		// locked again since, through another handle).
		if t.owners[o.key] == o {
			delete(t.owners, o.key)
			drop = append(drop, o)
		}
	}
	t.mu.Unlock()
	for _, o := range drop {
		r.fs.Release(o.f)
	}
}

// withOwner runs the non-blocking lock call fn on o's descriptor, unless o
// has been dropped meanwhile: its owner closed a descriptor of the file (a
// FLUSH from another thread), or its handle was released. A waiting
// F_SETLKW then answers EINTR rather than take a lock that no FLUSH or
// RELEASE would ever drop. fn runs under the table's lock, so that the
// descriptor cannot be closed under it.
func (r *rawFS) withOwner(o *lockOwner, fn func(fd int) unix.Errno) unix.Errno {
	t := &r.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owners[o.key] != o {
		return unix.EINTR
	}
	return fn(o.f.Fd)
}

// closeLocks releases every lock descriptor once serving has stopped.
func (r *rawFS) closeLocks() {
	t := &r.locks
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.done)
	}
	owners := t.owners
	t.owners = map[lockKey]*lockOwner{}
	clear(t.via)
	t.mu.Unlock()
	for _, o := range owners {
		r.fs.Release(o.f)
	}
}

// wireLock turns the wire's lock (an inclusive range) into a struct flock.
func wireLock(lk *fuse.FileLock) (unix.Flock_t, unix.Errno) {
	if lk.Start > math.MaxInt64 || lk.End < lk.Start {
		return unix.Flock_t{}, unix.EINVAL
	}
	fl := unix.Flock_t{Type: int16(lk.Typ), Whence: unix.SEEK_SET, Start: int64(lk.Start)}
	if lk.End < math.MaxInt64 {
		fl.Len = int64(lk.End-lk.Start) + 1
	} // else 0: to the end of the file, and beyond
	return fl, 0
}

func (r *rawFS) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	q := r.req(event.OpGetLk, &in.InHeader, "")
	h := r.handles.get(in.Fh)
	if h == nil {
		return r.done(q, unix.EBADF)
	}
	lk, e := wireLock(&in.Lk)
	if e != 0 {
		return r.done(q, e)
	}
	o, e := r.lockOwnerOf(in.Fh, lockKey{ino: h.ino, owner: in.Owner}, 0, false)
	if e != 0 {
		return r.done(q, e)
	}
	// Without locks of its own, the owner asks through the handle's
	// descriptor, which never carries POSIX or OFD locks: a different open
	// file description from every owner's.
	getlk := func(fd int) unix.Errno { return fsimpl.ErrnoOf(unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk)) }
	if o != nil {
		e = r.withOwner(o, getlk)
	} else {
		e = getlk(h.f.Fd)
	}
	if e != 0 {
		return r.done(q, e)
	}
	out.Lk.Typ = uint32(lk.Type)
	if lk.Type != unix.F_UNLCK {
		out.Lk.Start = uint64(lk.Start)
		out.Lk.End = math.MaxInt64
		if lk.Len > 0 {
			out.Lk.End = uint64(lk.Start + lk.Len - 1)
		}
		if lk.Pid > 0 {
			out.Lk.Pid = uint32(lk.Pid) // a supervised process's POSIX lock
		} else {
			out.Lk.Pid = r.otherLocker(h.ino, in.Owner)
		}
	}
	return r.done(q, 0)
}

// otherLocker names the process of some owner other than owner with locks
// on ino, or 0.
func (r *rawFS) otherLocker(ino fsimpl.Ino, owner uint64) uint32 {
	t := &r.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, o := range t.owners {
		if k.ino == ino && !k.flock && k.owner != owner && o.pid != 0 {
			return o.pid
		}
	}
	return 0
}

func (r *rawFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	q := r.req(event.OpSetLk, &in.InHeader, "")
	return r.done(q, r.setLk(nil, in))
}

func (r *rawFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	q := r.req(event.OpSetLkw, &in.InHeader, "")
	return r.done(q, r.setLk(cancel, in))
}

// setLk takes or drops a lock; with cancel set it waits for a conflicting
// lock to go (F_SETLKW, LOCK_EX without LOCK_NB) until the kernel
// interrupts the request.
func (r *rawFS) setLk(cancel <-chan struct{}, in *fuse.LkIn) unix.Errno {
	h := r.handles.get(in.Fh)
	if h == nil {
		return unix.EBADF
	}
	var key lockKey
	var unlock bool
	var call func(fd int) unix.Errno
	if in.LkFlags&fuse.FUSE_LK_FLOCK != 0 {
		var op int
		switch in.Lk.Typ {
		case unix.F_RDLCK:
			op = unix.LOCK_SH
		case unix.F_WRLCK:
			op = unix.LOCK_EX
		case unix.F_UNLCK:
			op = unix.LOCK_UN
		default:
			return unix.EINVAL
		}
		key, unlock = lockKey{ino: h.ino, owner: in.Fh, flock: true}, op == unix.LOCK_UN
		call = func(fd int) unix.Errno { return fsimpl.ErrnoOf(unix.Flock(fd, op|unix.LOCK_NB)) }
	} else {
		lk, e := wireLock(&in.Lk)
		if e != 0 {
			return e
		}
		key, unlock = lockKey{ino: h.ino, owner: in.Owner}, in.Lk.Typ == unix.F_UNLCK
		call = func(fd int) unix.Errno { return fsimpl.ErrnoOf(unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)) }
	}
	o, e := r.lockOwnerOf(in.Fh, key, in.Lk.Pid, !unlock)
	if e != 0 || o == nil {
		return e // no lock descriptor: nothing to unlock
	}
	if cancel != nil {
		// A waiter whose descriptor is dropped meanwhile gets EINTR
		// (withOwner): its owner closed the file, or is gone.
		return r.waitLock(cancel, func() unix.Errno { return r.withOwner(o, call) })
	}
	if e = r.withOwner(o, call); e == unix.EINTR {
		// Dropped between the two steps (a FLUSH from another of the
		// owner's threads): a non-blocking call starts over with a new
		// descriptor rather than answer EINTR.
		if o, e = r.lockOwnerOf(in.Fh, key, in.Lk.Pid, !unlock); e != 0 || o == nil {
			return e
		}
		e = r.withOwner(o, call)
	}
	return e
}

// waitLock retries try while the lock is held elsewhere. A blocking
// F_OFD_SETLKW or flock() could not be interrupted when the kernel sends
// FUSE_INTERRUPT, so the wait polls, from 50 us up to every 10 ms.
func (r *rawFS) waitLock(cancel <-chan struct{}, try func() unix.Errno) unix.Errno {
	delay := 50 * time.Microsecond
	var timer *time.Timer
	for {
		e := try()
		if e != unix.EAGAIN {
			return e
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-cancel:
			return unix.EINTR
		case <-r.locks.done:
			return unix.EINTR
		case <-timer.C:
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
}
