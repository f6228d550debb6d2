// Package fuseserve is the FUSE door of btfuse: an adapter from go-fuse's raw
// protocol API (fuse.RawFileSystem) onto package fsimpl. It translates and
// decides no semantics of its own: permission rules, errnos, link counts and
// times all come from fsimpl; the kernel additionally checks permissions
// itself (mount option default_permissions).
//
// # Data plane
//
// When the kernel negotiates FUSE passthrough (Linux >= 6.9) and the daemon
// may register backing files (CAP_SYS_ADMIN in the initial user namespace,
// probed once at mount), every open of a regular file replies
// FOPEN_PASSTHROUGH with the backing ID of the fsimpl File's descriptor: the
// kernel then reads, writes and mmaps the backing file itself and READ/WRITE
// never reach this package. Otherwise the mount runs close-to-open: READ and
// WRITE go through fsimpl.Read/Write, regular files get a zero attribute
// timeout and no FOPEN_KEEP_CACHE, so every open drops the kernel's page
// cache and every cached read rechecks size and mtime.
//
// # Invariants
//
//   - Node IDs are fsimpl inode numbers; the root is fsimpl.RootIno = 1 =
//     fuse.FUSE_ROOT_ID. Generation is fsimpl's per-filesystem generation
//     (0 for the root): numbers are never reused within a filesystem, and
//     the generation makes a file handle from another one stale. With
//     FUSE_EXPORT_SUPPORT the kernel looks up "." and ".." to rebuild the
//     nodes of file handles (lookupExport).
//   - Every successful entry reply (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK,
//     CREATE, and each READDIRPLUS entry other than "." and "..") carries
//     exactly one fsimpl reference, which is the kernel's lookup count;
//     FORGET/BATCH_FORGET return them with fsimpl.Forget. The adapter keeps
//     its own tally (lookups) so that it can return what the kernel never
//     forgot when the mount goes away, and so that the invalidation fallback
//     knows which inodes the kernel may cache.
//   - All passthrough opens of one inode use the same backing ID (the kernel
//     refuses a second backing file for an inode, fs/fuse/iomode.c). The ID
//     is registered at the first open and unregistered when the last handle
//     of the inode is released. A failed registration fails that open with
//     EIO and is counted; it never turns passthrough off for the mount.
//   - Suid/sgid clearing is the server's (FUSE_HANDLE_KILLPRIV_V2, which
//     spares a GETXATTR round trip per write). The kernel still decides
//     when: for a write, fallocate or chown(-1,-1) by a caller it finds
//     unprivileged it sends an empty SETATTR (passthrough writes
//     included), which becomes fsimpl.SetKillSUIDGID; FATTR_KILL_SUIDGID,
//     FUSE_WRITE_KILL_SUIDGID and FUSE_OPEN_KILL_SUIDGID (on OPEN) are
//     passed on.
//   - Handlers return unix.Errno bare; done() is the one place that turns an
//     errno into a fuse.Status (ENOSYS from fsimpl becomes EIO plus a log
//     line, because ENOSYS would switch the operation off in the kernel for
//     the life of the mount), and where a request is counted and reported
//     to the Observer.
//   - Invalidations requested by the other door are queued and sent by one
//     goroutine; a notify from inside a FUSE handler can deadlock against the
//     kernel's directory lock, so nothing here sends one synchronously.
//
// # Lock order
//
//	handles.mu (open files and per-inode backing IDs)
//	lookups.mu (kernel lookup tally)
//	inval.mu   (overflow flag and pending-drain bookkeeping)
//
// No two of these are ever held together and none is held across a call into
// fsimpl (handles.mu is held across the backing-ID ioctls, which do not call
// back into this process). Every one is released with defer: go-fuse turns a handler panic into EIO, and a mutex
// left held would hang the mount.
package fuseserve
