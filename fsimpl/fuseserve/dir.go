package fuseserve

import (
	"sync"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// Directory handles carry no state: fsimpl's readdir cookies stay valid
// while the directory changes, so the kernel's offset is all a READDIR
// needs.

func (r *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	q := r.req(event.OpOpenDir, &in.InHeader, "")
	e := r.fs.OpenDir(credOf(&in.InHeader), fsimpl.Ino(in.NodeId))
	out.Fh = 0
	out.OpenFlags = 0 // no FOPEN_CACHE_DIR: the other door changes directories too
	return r.done(q, e)
}

// ReleaseDir has nothing to release (directory handles carry no state) and
// no reply; done counts and reports it as answered.
func (r *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	r.done(r.req(event.OpReleaseDir, &in.InHeader, ""), 0)
}

func (r *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	q := r.req(event.OpFsyncDir, &in.InHeader, "")
	return r.done(q, r.fs.Fsync(fsimpl.Ino(in.NodeId)))
}

func (r *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	q := r.req(event.OpReadDir, &in.InHeader, "")
	e := r.fs.ReadDir(fsimpl.Ino(in.NodeId), in.Offset, func(d fsimpl.Dirent) bool {
		return out.AddDirEntry(fuse.DirEntry{Mode: d.Mode, Name: d.Name, Ino: uint64(d.Ino), Off: d.Off})
	})
	return r.done(q, e)
}

// Sizes of one READDIRPLUS record: fuse_entry_out, fuse_dirent header, name
// padded to 8 bytes (FUSE_DIRENTPLUS_SIZE).
const (
	entryOutSize = int(unsafe.Sizeof(fuse.EntryOut{}))
	direntSize   = 24
)

func direntPlusSize(name string) int {
	return entryOutSize + (direntSize+len(name)+7)&^7
}

var direntPool = sync.Pool{New: func() any { s := make([]fsimpl.Dirent, 0, 64); return &s }}

// ReadDirPlus answers READDIRPLUS: each entry with its attributes and one
// lookup reference, which the kernel counts as a lookup (fs/fuse/readdir.c
// fuse_direntplus_link). "." and ".." go without (NodeId 0): the kernel
// neither links nor counts them. The entries are collected first and looked
// up after fsimpl.ReadDir returns, so that no fsimpl call runs inside its
// callback; an entry removed meanwhile goes out as a bare name.
func (r *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	q := r.req(event.OpReadDirPlus, &in.InHeader, "")
	defer r.begin()()
	dir := fsimpl.Ino(in.NodeId)
	bufp := direntPool.Get().(*[]fsimpl.Dirent)
	defer func() {
		clear(*bufp)
		*bufp = (*bufp)[:0]
		direntPool.Put(bufp)
	}()
	room := int(in.Size)
	e := r.fs.ReadDir(dir, in.Offset, func(d fsimpl.Dirent) bool {
		sz := direntPlusSize(d.Name)
		if sz > room {
			return false
		}
		room -= sz
		*bufp = append(*bufp, d)
		return true
	})
	if e != 0 {
		return r.done(q, e)
	}
	var c *fsimpl.Cred
	for _, d := range *bufp {
		eo := out.AddDirLookupEntry(fuse.DirEntry{Mode: d.Mode, Name: d.Name, Ino: uint64(d.Ino), Off: d.Off})
		if eo == nil {
			break // cannot happen with the size accounting above
		}
		if d.Name == "." || d.Name == ".." {
			continue
		}
		if c == nil {
			c = credOf(&in.InHeader)
		}
		a, e := r.fs.Lookup(c, dir, d.Name)
		if e != 0 {
			// Gone since, or no search permission on dir: the name
			// still goes out, without attributes or a reference.
			continue
		}
		if a.Ino != d.Ino {
			// Replaced since: an entry for the new inode would
			// contradict the d_ino just written. Name only.
			r.fs.Forget(a.Ino, 1)
			continue
		}
		r.fillEntry(eo, &a)
		out.FixMode(a.Mode)
	}
	return r.done(q, 0)
}
