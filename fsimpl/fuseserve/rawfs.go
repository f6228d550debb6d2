package fuseserve

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
)

// rawFS answers the kernel's requests. Each method takes a req as it
// starts, translates the request, calls fsimpl, and ends in done(), the one
// reply point, which counts and reports the request and converts the errno
// (observe.go).
type rawFS struct {
	// RawFileSystem answers ENOSYS for what is not implemented here:
	// COPY_FILE_RANGE (the kernel then copies through read/write, which
	// passthrough serves), ioctl, poll,
	// TMPFILE (fsimpl has no unnamed files) and STATX (the kernel falls back
	// to GETATTR).
	fuse.RawFileSystem

	fs  *fsimpl.FS
	srv *fuse.Server // set in Init, before the first request

	// Set before serving starts, read-only afterwards.
	passthrough bool
	entryTTL    time.Duration // positive and negative entries
	attrTTL     time.Duration // everything but regular files
	fileAttrTTL time.Duration // regular files: 0 in close-to-open mode

	registerHook atomic.Pointer[func(fd int) (int32, unix.Errno)] // tests only

	inval  *invalQueue    // set before serving
	expiry *listingExpiry // set before serving; nil without a Server (unit tests)

	// obs, when set, is told of every request answered, with the node's
	// path from paths; both are nil on an unobserved door. Set before
	// serving starts.
	obs   event.Observer
	paths *pathCache

	// faults are the fault rules (inject.go), nil for none; mount is the
	// mount's path, which rules see paths under. Set before serving.
	faults *faults.Set
	tgids  *procfs.TgidCache
	mount  string

	handles   handleTable
	locks     lockTable
	lookups   lookupTable
	negatives negativeTable
	// busy counts requests in flight that may reply with attributes or
	// entries (see knows.go).
	busy  atomic.Int64
	stats counters
}

var _ fuse.RawFileSystem = (*rawFS)(nil)

func newRawFS(fs *fsimpl.FS, opts Options) *rawFS {
	r := &rawFS{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		fs:            fs,
		entryTTL:      opts.EntryTimeout,
		attrTTL:       opts.AttrTimeout,
		fileAttrTTL:   opts.AttrTimeout,
		handles:       handleTable{open: map[uint64]*handle{}, backing: map[fsimpl.Ino]*backingRef{}},
		locks:         newLockTable(),
		lookups:       lookupTable{refs: map[fsimpl.Ino]uint64{}, attrs: map[fsimpl.Ino]struct{}{}, listed: map[fsimpl.Ino]struct{}{}},
		negatives:     negativeTable{ttl: opts.EntryTimeout},
	}
	if opts.Observer != nil {
		r.obs, r.paths = opts.Observer, newPathCache()
	}
	if opts.Faults != nil {
		r.faults, r.tgids = opts.Faults, procfs.NewTgidCache()
	}
	return r
}

func (r *rawFS) String() string { return "btfuse" }

func (r *rawFS) Init(srv *fuse.Server) { r.srv = srv }

// shutdown runs once serving has stopped: the kernel is gone, so every
// handle it never released and every lookup count it never forgot go back
// to fsimpl, which can then free what nothing else holds.
func (r *rawFS) shutdown() {
	r.closeLocks()
	for _, h := range r.handles.closeAll() {
		r.fs.Release(h.f)
	}
	for ino, n := range r.lookups.drain() {
		r.fs.Forget(ino, n)
	}
}

// pollHackIno is the node go-fuse answers itself at mount time; its FORGET
// still reaches Forget.
const pollHackIno = math.MaxUint64

// lookupTable tallies the lookup counts the kernel holds, per inode. It
// mirrors the references held on fsimpl.
//
// attrs holds the inodes whose attributes were handed out since they were
// last invalidated, listed the directories listed since then (see
// knows.go).
type lookupTable struct {
	mu     sync.Mutex
	refs   map[fsimpl.Ino]uint64   // guarded by mu
	attrs  map[fsimpl.Ino]struct{} // guarded by mu
	listed map[fsimpl.Ino]struct{} // guarded by mu
}

// add records a lookup reference handed out, with the inode's attributes.
func (t *lookupTable) add(ino fsimpl.Ino) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refs[ino]++
	t.attrs[ino] = struct{}{}
}

// forget subtracts n and returns how many the kernel really held (the
// kernel never forgets more than it looked up; a larger n is logged).
func (t *lookupTable) forget(ino fsimpl.Ino, n uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	have := t.refs[ino]
	if n > have {
		slog.Warn("fuseserve: FORGET of more lookups than given", "ino", ino, "n", n, "have", have)
		n = have
	}
	if have-n == 0 {
		delete(t.refs, ino)
		delete(t.attrs, ino)
		delete(t.listed, ino)
	} else {
		t.refs[ino] = have - n
	}
	return n
}

func (t *lookupTable) known() []fsimpl.Ino {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]fsimpl.Ino, 0, len(t.refs))
	for ino := range t.refs {
		out = append(out, ino)
	}
	return out
}

func (t *lookupTable) total() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n uint64
	for _, c := range t.refs {
		n += c
	}
	return n
}

func (t *lookupTable) drain() map[fsimpl.Ino]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.refs
	t.refs = map[fsimpl.Ino]uint64{}
	clear(t.attrs)
	clear(t.listed)
	return out
}

// fillAttr converts an fsimpl attribute to the wire form.
func fillAttr(out *fuse.Attr, a *fsimpl.Attr) {
	*out = fuse.Attr{
		Ino:       uint64(a.Ino),
		Size:      a.Size,
		Blocks:    a.Blocks,
		Atime:     uint64(a.Atime.Sec),
		Mtime:     uint64(a.Mtime.Sec),
		Ctime:     uint64(a.Ctime.Sec),
		Atimensec: uint32(a.Atime.Nsec),
		Mtimensec: uint32(a.Mtime.Nsec),
		Ctimensec: uint32(a.Ctime.Nsec),
		Mode:      a.Mode,
		Nlink:     a.Nlink,
		Owner:     fuse.Owner{Uid: a.UID, Gid: a.GID},
		Rdev:      wireDev(a.Rdev),
		Blksize:   a.Blksize,
	}
}

// attrTTLFor is how long the kernel may keep a's attributes. A file that
// a supervised process has open for writing is written without this door
// knowing (natively, on the backing file): its size and mtime are not
// cached at all while it is, so that stat through the mount is right at
// once.
func (r *rawFS) attrTTLFor(a *fsimpl.Attr) time.Duration {
	switch {
	case a.Volatile:
		return 0
	case a.Mode&unix.S_IFMT == unix.S_IFREG:
		return r.fileAttrTTL
	}
	return r.attrTTL
}

// fillEntry fills an entry reply for a that carries one lookup reference,
// and records that reference as the kernel's.
func (r *rawFS) fillEntry(out *fuse.EntryOut, a *fsimpl.Attr) {
	out.NodeId = uint64(a.Ino)
	// The kernel made the root with generation 0 and refuses another.
	if a.Ino != fsimpl.RootIno {
		out.Generation = uint64(r.fs.Generation())
	}
	out.SetEntryTimeout(r.entryTTL)
	out.SetAttrTimeout(r.attrTTLFor(a))
	fillAttr(&out.Attr, a)
	r.lookups.add(a.Ino)
}

func (r *rawFS) fillAttrOut(out *fuse.AttrOut, a *fsimpl.Attr) {
	out.SetTimeout(r.attrTTLFor(a))
	fillAttr(&out.Attr, a)
	r.lookups.handedOut(a.Ino)
}

// wireDev encodes a device number (glibc dev_t, as in st_rdev) the way the
// FUSE protocol carries it: the kernel's new_encode_dev().
func wireDev(dev uint64) uint32 {
	major, minor := unix.Major(dev), unix.Minor(dev)
	return (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
}

// hostDev decodes a FUSE device number (new_decode_dev()).
func hostDev(d uint32) uint64 {
	major := (d & 0xfff00) >> 8
	minor := (d & 0xff) | (d>>12)&0xfff00
	return unix.Mkdev(major, minor)
}

func (r *rawFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	q := r.req(event.OpLookup, h, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	// The kernel does not enforce NAME_MAX for FUSE.
	if len(name) > fsimpl.NameMax {
		return r.done(q, unix.ENAMETOOLONG)
	}
	defer r.begin()()
	if name == "." || name == ".." {
		return r.done(q, r.lookupExport(h, name, out))
	}
	q.entry = out
	a, e := r.fs.Lookup(credOf(h), fsimpl.Ino(h.NodeId), name)
	if e == unix.ENOENT && r.entryTTL > 0 {
		// A negative entry: NodeId 0 with a timeout makes the kernel cache
		// the absence. The other door's InvalEntry removes it when it
		// creates the name (the kernel takes the directory lock for both,
		// so an invalidation cannot slip in before the entry is cached).
		// done counts and reports it as the ENOENT it is.
		*out = fuse.EntryOut{}
		out.SetEntryTimeout(r.entryTTL)
		r.negatives.add(fsimpl.Ino(h.NodeId), name)
		return r.done(q, 0)
	}
	if e == 0 {
		r.fillEntry(out, &a)
	}
	return r.done(q, e)
}

// lookupExport answers the LOOKUPs of "." and "..", which only the
// kernel's export operations send (a path walk resolves dots itself):
// "." on a node ID the kernel may have forgotten, to rebuild the inode of a
// file handle, and ".." on a directory, to reconnect it to the tree
// (fs/fuse/inode.c:fuse_get_dentry, fuse_get_parent). They carry no
// negative entry: the kernel makes an ENOENT ESTALE. A ".." that reaches
// the root adds to the root's lookup count, which FORGET leaves alone; the
// root is never freed, and shutdown returns the count. The node, rebuilt
// from a file handle, is not given a path in the path cache.
func (r *rawFS) lookupExport(h *fuse.InHeader, name string, out *fuse.EntryOut) unix.Errno {
	var a fsimpl.Attr
	var e unix.Errno
	if name == "." {
		a, e = r.fs.ExportInode(credOf(h), fsimpl.Ino(h.NodeId))
	} else {
		a, e = r.fs.ExportParent(credOf(h), fsimpl.Ino(h.NodeId))
	}
	if e == 0 {
		r.fillEntry(out, &a)
	}
	return e
}

// Forget has no reply; done counts and reports it as answered.
func (r *rawFS) Forget(nodeid, nlookup uint64) {
	q := r.req(event.OpForget, &fuse.InHeader{NodeId: nodeid}, "")
	ino := fsimpl.Ino(nodeid)
	// The root's count is the kernel's own (it never looked it up), and the
	// poll-hack node belongs to go-fuse.
	if ino == fsimpl.RootIno || nodeid == pollHackIno {
		r.done(q, 0)
		return
	}
	if n := r.lookups.forget(ino, nlookup); n > 0 {
		r.fs.Forget(ino, n)
	}
	r.done(q, 0)
	// A node the kernel still holds (looked up again meanwhile) keeps its
	// path.
	if r.paths != nil && !r.lookups.holds(ino) {
		r.paths.forget(nodeid)
	}
}

func (r *rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	q := r.req(event.OpGetAttr, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	a, e := r.fs.GetAttr(fsimpl.Ino(in.NodeId))
	if e == 0 {
		r.fillAttrOut(out, &a)
	}
	return r.done(q, e)
}

func (r *rawFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	q := r.req(event.OpSetAttr, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	var sa fsimpl.SetAttrIn
	if in.Valid&fuse.FATTR_MODE != 0 {
		sa.Valid |= fsimpl.SetMode
		sa.Mode = in.Mode & 0o7777
	}
	if in.Valid&fuse.FATTR_UID != 0 {
		sa.Valid |= fsimpl.SetUID
		sa.UID = in.Uid
	}
	if in.Valid&fuse.FATTR_GID != 0 {
		sa.Valid |= fsimpl.SetGID
		sa.GID = in.Gid
	}
	if in.Valid&fuse.FATTR_SIZE != 0 {
		sa.Valid |= fsimpl.SetSize
		sa.Size = in.Size
	}
	switch {
	case in.Valid&fuse.FATTR_ATIME_NOW != 0:
		sa.Valid |= fsimpl.SetAtimeNow
	case in.Valid&fuse.FATTR_ATIME != 0:
		sa.Valid |= fsimpl.SetAtime
		sa.Atime = unix.Timespec{Sec: int64(in.Atime), Nsec: int64(in.Atimensec)}
	}
	switch {
	case in.Valid&fuse.FATTR_MTIME_NOW != 0:
		sa.Valid |= fsimpl.SetMtimeNow
	case in.Valid&fuse.FATTR_MTIME != 0:
		sa.Valid |= fsimpl.SetMtime
		sa.Mtime = unix.Timespec{Sec: int64(in.Mtime), Nsec: int64(in.Mtimensec)}
	}
	// FATTR_CTIME comes only with the writeback cache, which is off.
	c := credOf(&in.InHeader)
	switch {
	case in.Valid&fuse.FATTR_KILL_SUIDGID != 0 && in.Valid&fuse.FATTR_SIZE != 0:
		// A truncation asks for the kill only when the caller lacks
		// CAP_FSETID (fuse_do_setattr(), should_remove_suid()).
		c = withoutFsetid(c)
	case in.Valid&(fuse.FATTR_UID|fuse.FATTR_GID|fuse.FATTR_KILL_SUIDGID) != 0 || in.Valid&setAttrFields == 0:
		// A chown (which always asks for the kill), chown(-1, -1) or a
		// write's privilege drop (below): which bits go is the
		// server's decision, by the caller's groups and CAP_FSETID
		// (see cred.go).
		c = fullCredOf(&in.InHeader)
	}
	if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 {
		sa.Valid |= fsimpl.SetKillSUIDGID
	}
	if in.Valid&setAttrFields == 0 {
		// An empty SETATTR is what notify_change() sends when only
		// ATTR_FORCE/ATTR_CTIME and ATTR_KILL_* were asked for: under
		// HANDLE_KILLPRIV_V2 fuse_setattr drops the kill bits and passes
		// the rest on. It comes from file_remove_privs() (a write,
		// passthrough ones included, fallocate or copy by a caller
		// without CAP_FSETID: the kernel has decided the bits must go)
		// and from chown(-1, -1), which also drops them on non-directories
		// (fs/open.c:chown_common). Measured on Linux 6.18: an
		// unprivileged pwrite through passthrough to a mode 4777 file sends
		// GETXATTR(security.capability) then SETATTR {}.
		a, e := r.fs.GetAttr(fsimpl.Ino(in.NodeId))
		if e != 0 {
			return r.done(q, e)
		}
		if a.Mode&unix.S_IFMT != unix.S_IFDIR {
			sa.Valid |= fsimpl.SetKillSUIDGID
		}
	}
	var f *fsimpl.File
	if fh, ok := in.GetFh(); ok {
		hd := r.handles.get(fh)
		if hd == nil {
			return r.done(q, unix.EBADF)
		}
		f = hd.f
	}
	a, e := r.fs.SetAttr(c, fsimpl.Ino(in.NodeId), &sa, f)
	if e == 0 {
		r.fillAttrOut(out, &a)
	}
	return r.done(q, e)
}

// setAttrFields are the SETATTR bits that name an attribute to change.
const setAttrFields = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_SIZE |
	fuse.FATTR_ATIME | fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW | fuse.FATTR_CTIME

// entry finishes the operations that create a name: on success the reply
// carries the reference fsimpl took, and names the node to the path cache.
func (r *rawFS) entry(q req, a fsimpl.Attr, e unix.Errno, out *fuse.EntryOut) fuse.Status {
	if e == 0 {
		r.fillEntry(out, &a)
		q.entry = out
	}
	return r.done(q, e)
}

func (r *rawFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	q := r.req(event.OpMknod, &in.InHeader, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	a, e := r.fs.Mknod(credOf(&in.InHeader), fsimpl.Ino(in.NodeId), name, in.Mode, hostDev(in.Rdev))
	return r.entry(q, a, e, out)
}

func (r *rawFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	q := r.req(event.OpMkdir, &in.InHeader, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	a, e := r.fs.Mkdir(credOf(&in.InHeader), fsimpl.Ino(in.NodeId), name, in.Mode)
	return r.entry(q, a, e, out)
}

func (r *rawFS) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	q := r.req(event.OpSymlink, h, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	a, e := r.fs.Symlink(credOf(h), fsimpl.Ino(h.NodeId), name, target)
	return r.entry(q, a, e, out)
}

func (r *rawFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	q := r.req(event.OpLink, &in.InHeader, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	defer r.begin()()
	a, e := r.fs.Link(credOf(&in.InHeader), fsimpl.Ino(in.Oldnodeid), fsimpl.Ino(in.NodeId), name)
	return r.entry(q, a, e, out)
}

// Unlink, Rmdir and Rename tell the path cache (when observing) once the
// name is gone or moved; the request is reported first, under the old name.

func (r *rawFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	q := r.req(event.OpUnlink, h, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	e := r.fs.Unlink(credOf(h), fsimpl.Ino(h.NodeId), name)
	if e == 0 {
		r.namesLeft(fsimpl.Ino(h.NodeId))
	}
	st := r.done(q, e)
	if e == 0 && r.paths != nil {
		r.paths.unlink(h.NodeId, name)
	}
	return st
}

func (r *rawFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	q := r.req(event.OpRmdir, h, name)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	e := r.fs.Rmdir(credOf(h), fsimpl.Ino(h.NodeId), name)
	if e == 0 {
		r.namesLeft(fsimpl.Ino(h.NodeId))
	}
	st := r.done(q, e)
	if e == 0 && r.paths != nil {
		r.paths.unlink(h.NodeId, name)
	}
	return st
}

func (r *rawFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	q := r.req(event.OpRename, &in.InHeader, oldName)
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	e := r.fs.Rename(credOf(&in.InHeader), fsimpl.Ino(in.NodeId), oldName, fsimpl.Ino(in.Newdir), newName, in.Flags)
	if e == 0 {
		r.namesLeft(fsimpl.Ino(in.NodeId))
		r.namesLeft(fsimpl.Ino(in.Newdir)) // a name replaced, or exchanged
	}
	st := r.done(q, e)
	if e == 0 && r.paths != nil {
		r.paths.rename(in.NodeId, oldName, in.Newdir, newName, in.Flags&unix.RENAME_EXCHANGE != 0)
	}
	return st
}

func (r *rawFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	q := r.req(event.OpReadlink, h, "")
	if e := r.fault(&q).failed(); e != 0 {
		return nil, r.done(q, e)
	}
	target, e := r.fs.Readlink(credOf(h), fsimpl.Ino(h.NodeId))
	if e != 0 {
		return nil, r.done(q, e)
	}
	return []byte(target), r.done(q, 0)
}

func (r *rawFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	q := r.req(event.OpAccess, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	return r.done(q, r.fs.Access(credOf(&in.InHeader), fsimpl.Ino(in.NodeId), in.Mask))
}

func (r *rawFS) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	q := r.req(event.OpStatFs, h, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	st := r.fs.StatFs()
	*out = fuse.StatfsOut{
		Blocks:  st.Blocks,
		Bfree:   st.Bfree,
		Bavail:  st.Bavail,
		Files:   st.Files,
		Ffree:   st.Ffree,
		Bsize:   st.Bsize,
		NameLen: st.NameLen,
		Frsize:  st.Frsize,
	}
	return r.done(q, 0)
}
