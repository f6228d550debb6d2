package fuseserve

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// observed reports every request rawFS answers to an Observer: the op, the
// calling thread, the node and its path from the root (see pathCache), the
// errno and the latency. It wraps rawFS only when Options.Observer is set,
// so the unobserved door pays nothing. Requests it does not wrap (INIT, the
// ones go-fuse answers ENOSYS) are not reported.
type observed struct {
	*rawFS
	obs   event.Observer
	paths *pathCache
}

func newObserved(r *rawFS, obs event.Observer) *observed {
	return &observed{rawFS: r, obs: obs, paths: newPathCache()}
}

var _ fuse.RawFileSystem = (*observed)(nil)

// done reports one request about node h.NodeId, or about name in that
// directory when name is set. It does not allocate.
func (o *observed) done(op event.Op, h *fuse.InHeader, name string, st fuse.Status, start time.Time) {
	ev := event.Event{
		Op: op, Door: event.DoorFUSE, Outcome: event.Served,
		Tid: int32(h.Caller.Pid), Ino: h.NodeId, Latency: time.Since(start),
	}
	if name != "" {
		ev.Dir, ev.Path = o.paths.get(h.NodeId), name
	} else {
		ev.Path = o.paths.get(h.NodeId)
	}
	if st != fuse.OK {
		ev.Outcome, ev.Errno = event.Error, unix.Errno(st)
	}
	o.obs.Observe(ev)
}

func (o *observed) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Lookup(cancel, h, name, out)
	if st == fuse.OK && out.NodeId == 0 { // a negative entry is an ENOENT
		o.done(event.OpLookup, h, name, fuse.ENOENT, t)
	} else {
		o.done(event.OpLookup, h, name, st, t)
	}
	// A node rebuilt from a file handle ("." or "..") has no known path.
	if st == fuse.OK && name != "." && name != ".." {
		o.entryOf(h.NodeId, name, out)
	}
	return st
}

func (o *observed) Forget(nodeid, nlookup uint64) {
	t := time.Now()
	o.rawFS.Forget(nodeid, nlookup)
	o.done(event.OpForget, &fuse.InHeader{NodeId: nodeid}, "", fuse.OK, t)
	if !o.rawFS.lookups.holds(fsimpl.Ino(nodeid)) {
		o.paths.forget(nodeid)
	}
}

func (o *observed) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.GetAttr(cancel, in, out)
	o.done(event.OpGetAttr, &in.InHeader, "", st, t)
	return st
}

func (o *observed) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.SetAttr(cancel, in, out)
	o.done(event.OpSetAttr, &in.InHeader, "", st, t)
	return st
}

func (o *observed) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Mknod(cancel, in, name, out)
	o.done(event.OpMknod, &in.InHeader, name, st, t)
	if st == fuse.OK {
		o.entryOf(in.NodeId, name, out)
	}
	return st
}

func (o *observed) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Mkdir(cancel, in, name, out)
	o.done(event.OpMkdir, &in.InHeader, name, st, t)
	if st == fuse.OK {
		o.entryOf(in.NodeId, name, out)
	}
	return st
}

func (o *observed) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Symlink(cancel, h, target, name, out)
	o.done(event.OpSymlink, h, name, st, t)
	if st == fuse.OK {
		o.entryOf(h.NodeId, name, out)
	}
	return st
}

func (o *observed) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Link(cancel, in, name, out)
	o.done(event.OpLink, &in.InHeader, name, st, t)
	if st == fuse.OK {
		o.entryOf(in.NodeId, name, out)
	}
	return st
}

func (o *observed) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := o.rawFS.Unlink(cancel, h, name)
	o.done(event.OpUnlink, h, name, st, t)
	if st == fuse.OK {
		o.paths.unlink(h.NodeId, name)
	}
	return st
}

func (o *observed) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := o.rawFS.Rmdir(cancel, h, name)
	o.done(event.OpRmdir, h, name, st, t)
	if st == fuse.OK {
		o.paths.unlink(h.NodeId, name)
	}
	return st
}

func (o *observed) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	t := time.Now()
	st := o.rawFS.Rename(cancel, in, oldName, newName)
	o.done(event.OpRename, &in.InHeader, oldName, st, t)
	if st == fuse.OK {
		o.paths.rename(in.NodeId, oldName, in.Newdir, newName, in.Flags&unix.RENAME_EXCHANGE != 0)
	}
	return st
}

func (o *observed) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	t := time.Now()
	b, st := o.rawFS.Readlink(cancel, h)
	o.done(event.OpReadlink, h, "", st, t)
	return b, st
}

func (o *observed) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.Access(cancel, in)
	o.done(event.OpAccess, &in.InHeader, "", st, t)
	return st
}

func (o *observed) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.StatFs(cancel, h, out)
	o.done(event.OpStatFs, h, "", st, t)
	return st
}

func (o *observed) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.rawFS.GetXAttr(cancel, h, name, dest)
	o.done(event.OpGetXattr, h, "", st, t)
	return n, st
}

func (o *observed) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.rawFS.ListXAttr(cancel, h, dest)
	o.done(event.OpListXattr, h, "", st, t)
	return n, st
}

func (o *observed) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	t := time.Now()
	st := o.rawFS.SetXAttr(cancel, in, name, data)
	o.done(event.OpSetXattr, &in.InHeader, "", st, t)
	return st
}

func (o *observed) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := o.rawFS.RemoveXAttr(cancel, h, name)
	o.done(event.OpRemoveXattr, h, "", st, t)
	return st
}

func (o *observed) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Create(cancel, in, name, out)
	o.done(event.OpCreate, &in.InHeader, name, st, t)
	if st == fuse.OK {
		o.entryOf(in.NodeId, name, &out.EntryOut)
	}
	return st
}

func (o *observed) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Open(cancel, in, out)
	o.done(event.OpOpen, &in.InHeader, "", st, t)
	return st
}

func (o *observed) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	t := time.Now()
	res, st := o.rawFS.Read(cancel, in, buf)
	o.done(event.OpRead, &in.InHeader, "", st, t)
	return res, st
}

func (o *observed) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := o.rawFS.Write(cancel, in, data)
	o.done(event.OpWrite, &in.InHeader, "", st, t)
	return n, st
}

func (o *observed) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.Lseek(cancel, in, out)
	o.done(event.OpLseek, &in.InHeader, "", st, t)
	return st
}

func (o *observed) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	t := time.Now()
	o.rawFS.Release(cancel, in)
	o.done(event.OpRelease, &in.InHeader, "", fuse.OK, t)
}

func (o *observed) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.Flush(cancel, in)
	o.done(event.OpFlush, &in.InHeader, "", st, t)
	return st
}

func (o *observed) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.Fsync(cancel, in)
	o.done(event.OpFsync, &in.InHeader, "", st, t)
	return st
}

func (o *observed) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.Fallocate(cancel, in)
	o.done(event.OpFallocate, &in.InHeader, "", st, t)
	return st
}

func (o *observed) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.OpenDir(cancel, in, out)
	o.done(event.OpOpenDir, &in.InHeader, "", st, t)
	return st
}

func (o *observed) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := o.rawFS.ReadDir(cancel, in, out)
	o.done(event.OpReadDir, &in.InHeader, "", st, t)
	return st
}

func (o *observed) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := o.rawFS.ReadDirPlus(cancel, in, out)
	o.done(event.OpReadDirPlus, &in.InHeader, "", st, t)
	return st
}

func (o *observed) ReleaseDir(in *fuse.ReleaseIn) {
	t := time.Now()
	o.rawFS.ReleaseDir(in)
	o.done(event.OpReleaseDir, &in.InHeader, "", fuse.OK, t)
}

func (o *observed) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.FsyncDir(cancel, in)
	o.done(event.OpFsyncDir, &in.InHeader, "", st, t)
	return st
}

// entryOf notes the node an entry reply named.
func (o *observed) entryOf(parent uint64, name string, out *fuse.EntryOut) {
	o.paths.entry(parent, name, out.NodeId, out.Attr.Mode&unix.S_IFMT == unix.S_IFDIR)
}

// holds reports whether the kernel holds lookups of ino.
func (t *lookupTable) holds(ino fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refs[ino] > 0
}

func (o *observed) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	t := time.Now()
	st := o.rawFS.GetLk(cancel, in, out)
	o.done(event.OpGetLk, &in.InHeader, "", st, t)
	return st
}

func (o *observed) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.SetLk(cancel, in)
	o.done(event.OpSetLk, &in.InHeader, "", st, t)
	return st
}

func (o *observed) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	t := time.Now()
	st := o.rawFS.SetLkw(cancel, in)
	o.done(event.OpSetLkw, &in.InHeader, "", st, t)
	return st
}
