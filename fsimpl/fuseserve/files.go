package fuseserve

import (
	"log/slog"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// handle is one open regular file, named on the wire by its Fh.
type handle struct {
	f       *fsimpl.File
	ino     fsimpl.Ino
	backing bool // holds a reference on handles.backing[ino]
}

// backingRef is the one backing ID registered for an inode while any of its
// handles is open for passthrough.
type backingRef struct {
	id int32
	n  int // open handles using it
}

// handleTable holds the open files and the per-inode backing IDs.
type handleTable struct {
	mu      sync.Mutex
	next    uint64                     // guarded by mu; last Fh handed out
	open    map[uint64]*handle         // guarded by mu
	backing map[fsimpl.Ino]*backingRef // guarded by mu
	closed  bool                       // guarded by mu; serving has stopped
}

func (t *handleTable) get(fh uint64) *handle {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open[fh]
}

func (t *handleTable) sizes() (backing, open int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.backing), len(t.open)
}

// closeAll empties the table once the kernel is gone; the backing IDs died
// with the connection.
func (t *handleTable) closeAll() []*handle {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	out := make([]*handle, 0, len(t.open))
	for _, h := range t.open {
		out = append(out, h)
	}
	clear(t.open)
	clear(t.backing)
	return out
}

// addHandle registers f as an open handle and fills the open reply: in
// passthrough mode with the inode's backing ID, registering one for the
// first open of the inode. A failed registration fails this open with EIO
// (logged and counted) and leaves passthrough on for every other open.
// FOPEN_NOFLUSH spares the FLUSH round trip on every close(): there is
// nothing to flush without a writeback cache, nor POSIX locks to drop
// unless the inode was locked through this door (locks.go). A direct
// handle (for fault rules, inject.go) gets FOPEN_DIRECT_IO and no
// passthrough: every read and write reaches the door.
func (r *rawFS) addHandle(f *fsimpl.File, out *fuse.OpenOut, direct bool) unix.Errno {
	t := &r.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return unix.ENOTCONN
	}
	h := &handle{f: f, ino: f.Ino}
	var flags uint32
	if !r.locks.wantsFlush(f.Ino) {
		flags |= fuse.FOPEN_NOFLUSH
	}
	if direct {
		flags |= fuse.FOPEN_DIRECT_IO
	}
	if r.passthrough && !direct {
		b := t.backing[f.Ino]
		if b == nil {
			id, errno := r.register(f.Fd)
			if errno != 0 {
				r.stats.backingFail.Add(1)
				slog.Error("fuseserve: registering the backing file for passthrough failed; the open fails with EIO",
					"ino", f.Ino, "fd", f.Fd, "err", errno)
				return unix.EIO
			}
			r.stats.backingOK.Add(1)
			b = &backingRef{id: id}
			t.backing[f.Ino] = b
		}
		b.n++
		h.backing = true
		out.BackingID = b.id
		flags |= fuse.FOPEN_PASSTHROUGH
	}
	t.next++
	t.open[t.next] = h
	out.Fh = t.next
	out.OpenFlags = flags
	return 0
}

// removeHandle takes fh out of the table and drops its backing reference,
// unregistering the inode's backing ID with the last one.
func (r *rawFS) removeHandle(fh uint64) *handle {
	t := &r.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.open[fh]
	if h == nil {
		return nil
	}
	delete(t.open, fh)
	if !h.backing {
		return h
	}
	b := t.backing[h.ino]
	if b == nil {
		return h
	}
	if b.n--; b.n > 0 {
		return h
	}
	delete(t.backing, h.ino)
	if errno := r.srv.UnregisterBackingFd(b.id); errno != 0 {
		r.stats.unregFail.Add(1)
		slog.Warn("fuseserve: unregistering a backing ID failed", "ino", h.ino, "id", b.id, "err", errno)
	}
	return h
}

// register registers fd as a backing file; tests replace it to make a
// registration fail.
func (r *rawFS) register(fd int) (int32, unix.Errno) {
	if hook := r.registerHook.Load(); hook != nil {
		return (*hook)(fd)
	}
	id, errno := r.srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(fd)})
	return id, unix.Errno(errno)
}

func (r *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	q := r.req(event.OpOpen, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	c := credOf(&in.InHeader)
	if in.Mode&fuse.OPEN_KILL_SUIDGID != 0 {
		c = withoutFsetid(c)
	}
	f, e := r.fs.Open(c, fsimpl.Ino(in.NodeId), int(in.Flags))
	if e != 0 {
		return r.done(q, e)
	}
	if in.Mode&fuse.OPEN_KILL_SUIDGID != 0 {
		// Under HANDLE_KILLPRIV_V2 the kernel leaves clearing suid/sgid
		// on an unprivileged O_TRUNC to the server; fsimpl.Open did it
		// with the truncation (do_truncate), so only the kernel's cached
		// mode is left to drop. (Writes: see the empty SETATTR.)
		r.inval.push(invalReq{kind: invalAttr, ino: f.Ino})
	}
	if e = r.addHandle(f, out, r.directIO(&q)); e != 0 {
		r.fs.Release(f)
	}
	return r.done(q, e)
}

func (r *rawFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	q := r.req(event.OpCreate, &in.InHeader, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	c := credOf(&in.InHeader)
	if in.OpenFlags&fuse.OPEN_KILL_SUIDGID != 0 {
		c = withoutFsetid(c)
	}
	a, f, e := r.fs.Create(c, fsimpl.Ino(in.NodeId), name, int(in.Flags), in.Mode)
	if e != 0 {
		return r.done(q, e)
	}
	// FUSE_OPEN_KILL_SUIDGID says only that the caller lacks CAP_FSETID:
	// the kernel sets it for any unprivileged O_CREAT|O_TRUNC, also when
	// the file is new and so not truncated (tmpfs keeps a new file's
	// bits), and fsimpl.Create drops them when it truncates a file that
	// existed.
	if e := r.addHandle(f, &out.OpenOut, r.directIO(&q)); e != 0 {
		// The name stays created (as after a failed open(O_CREAT) on
		// any filesystem); the reference and the File go back.
		r.fs.Release(f)
		r.fs.Forget(a.Ino, 1)
		return r.done(q, e)
	}
	r.fillEntry(&out.EntryOut, &a)
	q.entry = &out.EntryOut
	return r.done(q, 0)
}

// Release has no reply; done counts and reports it as answered.
func (r *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	q := r.req(event.OpRelease, &in.InHeader, "")
	if h := r.removeHandle(in.Fh); h != nil {
		r.releaseLocks(in.Fh)
		r.fs.Release(h.f)
	}
	r.done(q, 0)
}

// Read and Write serve close-to-open mode; with passthrough the kernel
// reads and writes the backing file itself and never sends them.
func (r *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	q := r.req(event.OpRead, &in.InHeader, "")
	fi := r.fault(&q)
	if e := fi.failed(); e != 0 {
		return nil, r.done(q, e)
	}
	h := r.handles.get(in.Fh)
	if h == nil {
		return nil, r.done(q, unix.EBADF)
	}
	buf = fi.shortRead(buf[:min(len(buf), int(in.Size))])
	n, e := r.fs.Read(h.f, buf, int64(in.Offset))
	if e != 0 {
		return nil, r.done(q, e)
	}
	fi.corrupt(buf[:n])
	return fuse.ReadResultData(buf[:n]), r.done(q, 0)
}

func (r *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	q := r.req(event.OpWrite, &in.InHeader, "")
	fi := r.fault(&q)
	if e := fi.failed(); e != 0 {
		return 0, r.done(q, e)
	}
	h := r.handles.get(in.Fh)
	if h == nil {
		return 0, r.done(q, unix.EBADF)
	}
	// The kernel sets FUSE_WRITE_KILL_SUIDGID on every write by a caller
	// without CAP_FSETID, whatever the mode; fsimpl weighs the caller's
	// groups to decide about setgid.
	var killFor *fsimpl.Cred
	if in.WriteFlags&fuse.WRITE_KILL_SUIDGID != 0 {
		killFor = withoutFsetid(credOf(&in.InHeader))
	}
	data, e := fi.writeData(data, int64(in.Offset))
	if e != 0 {
		return 0, r.done(q, e)
	}
	n, e := r.fs.Write(h.f, data, int64(in.Offset), killFor)
	return uint32(n), r.done(q, e)
}

func (r *rawFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	q := r.req(event.OpLseek, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	h := r.handles.get(in.Fh)
	if h == nil {
		return r.done(q, unix.EBADF)
	}
	off, e := r.fs.Lseek(h.f, int64(in.Offset), int(in.Whence))
	if e == 0 {
		out.Offset = uint64(off)
	}
	return r.done(q, e)
}

func (r *rawFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	q := r.req(event.OpFallocate, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	h := r.handles.get(in.Fh)
	if h == nil {
		return r.done(q, unix.EBADF)
	}
	e := r.fs.Fallocate(h.f, in.Mode, int64(in.Offset), int64(in.Length))
	return r.done(q, e)
}

// Flush comes at every close() of a handle opened without FOPEN_NOFLUSH:
// the closing owner's POSIX locks on the inode go (locks.go).
func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	q := r.req(event.OpFlush, &in.InHeader, "")
	r.dropOwner(fsimpl.Ino(in.NodeId), in.LockOwner)
	return r.done(q, 0)
}

func (r *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	q := r.req(event.OpFsync, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	return r.done(q, r.fs.Fsync(fsimpl.Ino(in.NodeId)))
}
