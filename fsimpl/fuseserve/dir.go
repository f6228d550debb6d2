package fuseserve

import (
	"sync"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// Directories are opened, synced and released without this server.
//
// OPENDIR is answered ENOSYS, once: the kernel then sets fc->no_opendir
// and opens every directory of the mount itself, with no OPENDIR and no
// RELEASEDIR, and with open flags FOPEN_KEEP_CACHE|FOPEN_CACHE_DIR
// (fs/fuse/file.c fuse_file_open, "Default for no-open"). That loses
// nothing:
//   - the permission check is the kernel's (default_permissions: may_open
//     -> inode_permission(MAY_READ) -> fuse_permission, with fresh
//     attributes), and it is the one fsimpl.OpenDir would make: mode bits
//     and capabilities, no ACLs on this mount;
//   - directory handles carry no state: fsimpl's readdir cookies stay
//     valid while the directory changes, so the kernel's offset is all a
//     READDIR needs (the handle is 0 either way);
//   - neither OPENDIR nor RELEASEDIR stands for a syscall a fault rule
//     can name (inject.go), and they are no longer counted.
//
// FOPEN_CACHE_DIR keeps each listing in the directory's pages
// (fs/fuse/readdir.c fuse_readdir_cached), so that a directory read again
// costs no READDIR. The kernel drops that cache, at the next read from
// offset 0 (an opendir or a rewinddir), when the directory's mtime or
// i_version moved: its own entry changes call fuse_dir_changed(), which
// bumps i_version; the auto_inval_data mount (go-fuse asks for it) fetches
// fresh attributes at offset 0. Changes made through the other doors drop
// the pages themselves: the change feed invalidates the directory with a
// data range (Server.InvalInode), so a reader mid-stream stops reading the
// old listing at the next page as well. A reply in flight while such a
// change lands can refill the cache with the listing from before it; the
// mtime the kernel noted before asking for that listing is then older
// than the directory's, and the next read from offset 0 drops it.
//
// FSYNCDIR is answered ENOSYS, once: the kernel sets fc->no_fsyncdir and
// answers fsync on a directory 0 from then on (fs/fuse/dir.c
// fuse_dir_fsync), like a kernel tmpfs (noop_fsync). fsimpl keeps no
// durable state to flush; a durable fsimpl will want it back, and then
// must answer it.

// namesLeft is called by the handlers that take a name out of dir
// (UNLINK, RMDIR, RENAME) once it is gone: the kernel drops dir's cached
// listing itself only at the next read from offset 0 (fuse_dir_changed()
// bumps i_version, which fuse_readdir_cached() compares there), so a
// stream already past offset 0 would go on returning the name from the
// pages, where a kernel tmpfs never returns a name removed before the
// stream reached it. Names added need nothing: whether a stream returns
// them is unspecified.
func (r *rawFS) namesLeft(dir fsimpl.Ino) { r.dropListing(dir) }

// dropListing drops dir's cached listing, when the kernel may hold one,
// from the handler of a request that changed dir, before its reply. That
// notification (fs/fuse/notify.c fuse_notify_inval_inode ->
// fuse_reverse_inval_inode) takes the directory's page locks, not its
// i_rwsem, and every change of a directory's entries or attributes holds
// its i_rwsem exclusively while the request is in flight (inode_lock in
// do_unlinkat and notify_change's callers, lock_rename, vfs_setxattr):
// that keeps the readers, the only holders of those page locks, out of
// fuse_readdir() meanwhile, so it cannot wait on this request.
func (r *rawFS) dropListing(dir fsimpl.Ino) {
	if r.lookups.takeListed(dir) && r.inval != nil { // nil: no Server (unit tests)
		r.inval.sendNow(invalReq{kind: invalData, ino: dir})
	}
}

// OpenDir declines (see above); it is sent at most once per mount. A
// kernel that does not announce FUSE_NO_OPENDIR_SUPPORT (before 5.1)
// would fail the opendir with ENOSYS instead: it gets the same open flags
// in a reply.
func (r *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if r.srv == nil || r.srv.KernelSettings().Flags64()&fuse.CAP_NO_OPENDIR_SUPPORT != 0 {
		return fuse.ENOSYS
	}
	q := r.req(event.OpOpenDir, &in.InHeader, "")
	e := r.fs.OpenDir(credOf(&in.InHeader), fsimpl.Ino(in.NodeId))
	out.Fh = 0
	out.OpenFlags = fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_CACHE_DIR
	return r.done(q, e)
}

// ReleaseDir has nothing to release (directory handles carry no state) and
// no reply; done counts and reports it as answered. Only a kernel without
// FUSE_NO_OPENDIR_SUPPORT sends it.
func (r *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	r.done(r.req(event.OpReleaseDir, &in.InHeader, ""), 0)
}

// FsyncDir declines (see above); it is sent at most once per mount.
func (r *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return fuse.ENOSYS
}

func (r *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	q := r.req(event.OpReadDir, &in.InHeader, "")
	r.lookups.listedDir(fsimpl.Ino(in.NodeId))
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
	r.lookups.listedDir(dir)
	if in.Offset == 0 && r.expiry != nil {
		r.expiry.add(dir) // listing.go
	}
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
