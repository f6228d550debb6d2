package fsimpl

import (
	"math/rand/v2"

	"golang.org/x/sys/unix"
)

// File handles (name_to_handle_at, open_by_handle_at, an NFS export) name
// an inode by its number and a generation. Numbers come from a counter and
// are never reused, so within one filesystem a number names one inode for
// its whole life and none after it is freed: the handle of a freed inode is
// ESTALE, as on tmpfs. The generation tells filesystems apart: a handle
// kept from an earlier daemon must not name the inode that happens to have
// its number in this one.
//
// The kernel rebuilds an inode it has dropped from a handle, and walks up
// from a directory to reconnect it to the tree, without a path walk and
// without permission checks of its own: a local filesystem's fh_to_dentry
// and get_parent check nothing (ext4_get_parent reads ".." directly), and
// open_by_handle_at requires CAP_DAC_READ_SEARCH of its caller. So
// ExportInode and ExportParent check no search permission; what the caller
// does with the result (open it, look up the name found in the parent) is
// checked as usual.

// newGeneration draws the generation of a new filesystem: random, as tmpfs
// draws one per inode (mm/shmem.c:__shmem_get_inode), and never 0, the
// generation of the root.
func newGeneration() uint32 {
	for {
		if g := rand.Uint32(); g != 0 {
			return g
		}
	}
}

// Generation is the generation number of every inode but the root (whose
// generation is 0) in file handles.
func (fs *FS) Generation() uint32 { return fs.gen }

// ExportInode returns inode ino for a file handle (fs/exportfs
// fh_to_dentry), with a reference for the FUSE door; ESTALE once it has
// been freed. An inode that is unlinked but still open or referenced is
// returned, as the kernel finds such an inode in its cache.
func (fs *FS) ExportInode(c *Cred, ino Ino) (Attr, unix.Errno) {
	c = cred(c)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

// ExportParent returns the parent of directory ino, to reconnect a
// directory rebuilt from a file handle (get_parent), with a reference for
// the FUSE door. The root is its own parent. A removed directory has no
// parent: ENOENT.
func (fs *FS) ExportParent(c *Cred, ino Ino) (Attr, unix.Errno) {
	c = cred(c)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return Attr{}, e
	}
	if !n.isDir() || n.dir == nil {
		return Attr{}, unix.ENOTDIR
	}
	if n.nlink == 0 {
		return Attr{}, unix.ENOENT
	}
	p := fs.childLocked(n, "..")
	if p == nil {
		return Attr{}, unix.ENOENT
	}
	return fs.entryLocked(c, p), 0
}
