// Package fsimpl is the in-memory filesystem behind both doors of btfuse: the
// FUSE adapter and the seccomp supervisor call the same methods of *FS.
//
// Semantics mirror Linux tmpfs (mm/shmem.c, fs/libfs.c) and the VFS checks in
// front of it (fs/namei.c, fs/attr.c, fs/open.c, fs/xattr.c): errnos, the
// order in which they are reported, link counts, directory sizes and time
// updates. Comments name the kernel function each piece mirrors.
//
// # Data plane
//
// Metadata (names, mode, owner, link counts, ctime, xattrs, symlink targets)
// lives in Go memory. The contents of every regular file live in one backing
// file, named by the inode number in hex, inside a backing directory that the
// FS reaches only through a directory fd (see backing.go): a private tmpfs
// created with fsopen/fsmount and never attached to a path (BackingTmpfs), or
// a 0700 directory under /dev/shm (BackingShm). Size, blocks, atime and mtime
// of a regular file are read from the backing file, so writes made through
// descriptors handed to other processes show at once. With BackingTmpfs the
// kernel enforces Options.SizeBytes itself; with BackingShm fsimpl enforces it
// on Write, SetAttr and Fallocate only, from an estimate of the bytes
// allocated (writes through handed-out descriptors are seen after the fact).
//
// # Invariants
//
//   - Inode numbers come from a counter and are never reused; RootIno is the
//     root, which is never freed.
//   - An inode is in FS.inodes until it has no links, no references (Lookup
//     and friends take one, Forget returns them) and no open Files; then it is
//     removed and its backing file unlinked.
//   - A directory's nlink is 2 plus its subdirectories; a removed directory
//     has nlink 0 and is "dead": nothing can be created in it.
//   - Directory entries carry a cookie handed out from a per-directory
//     counter (3, 4, ...; "." is 1 and ".." is 2) each time a name is bound
//     (created, linked, renamed or exchanged into place). Readdir returns
//     entries from the largest cookie down, as tmpfs returns the newest
//     first, so an entry bound during a walk lies behind it: a walk returns
//     no name twice and always ends, and its offsets stay valid while the
//     directory changes.
//   - Every errno is returned bare as a unix.Errno; 0 is success.
//
// # Lock order
//
//	FS.mu (sync.RWMutex: namespace, metadata, reference counts)
//	  -> no other lock.
//
// Lookup, GetAttr, ReadDir, Readlink, Access and the xattr reads hold FS.mu
// for reading only; Lookup's reference count is atomic for that reason and
// is only decreased (and tested for zero) with FS.mu held for writing.
// Accounting of backing bytes (inode.alloc, FS.usedBytes) is atomic and may
// be touched with or without FS.mu. Data I/O on a File (pread, pwrite, lseek,
// fallocate) runs without FS.mu. Functions that need FS.mu held end in Locked
// and say so in a Preconditions line. FS.mu is always released with defer.
package fsimpl
