package fsimpl

import (
	"golang.org/x/sys/unix"
)

// File is an open regular file: a backing file descriptor opened with the
// caller's access mode and O_APPEND, owned by the File until Release. The
// supervised door installs a dup of Fd into the target; the FUSE door
// registers it for passthrough or reads and writes through it.
type File struct {
	Ino   Ino
	Flags int // the open flags as the caller gave them
	Fd    int
	// Created is set when the open created the file (FMODE_CREATED).
	Created bool
	// BackIno is the backing file's inode number, 0 when unknown: a door
	// whose target opens the backing file itself can know it for the
	// target without another fstat.
	BackIno uint64

	n       *inode // immutable; kept alive by the open count
	foreign bool   // a writer handed out (HandOut); guarded by FS.mu
}

// backingOpenFlags are the caller's flags that reach the backing file.
// O_CREAT, O_EXCL and O_TRUNC never do: fsimpl creates and truncates.
const backingOpenFlags = unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK

// accWrites reports whether open flags give FMODE_WRITE.
func accWrites(flags int) bool {
	acc := flags & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR
}

// FmodeExec is __FMODE_EXEC, the open flag of the kernel's own open of a
// program to run (fs/exec.c:do_open_execat()), which the FUSE door sees in
// OPEN's flags.
const FmodeExec = 0x20

// accMask is fs/open.c:build_open_flags()'s acc_mode: ACC_MODE() of the
// access mode (O_ACCMODE itself asks for both), plus write for O_TRUNC; an
// exec open asks for execute permission only (open_exec_flags' acc_mode
// is MAY_EXEC), so a program may be run by whoever may not read it.
func accMask(flags int) uint32 {
	if flags&FmodeExec != 0 && flags&unix.O_ACCMODE == unix.O_RDONLY {
		return mayExec
	}
	var m uint32
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		m = mayRead
	case unix.O_WRONLY:
		m = mayWrite
	default:
		m = mayRead | mayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		m |= mayWrite
	}
	return m
}

// Create opens name in parent, creating it as a regular file with mode when
// it does not exist (flags carry O_CREAT, O_EXCL, O_TRUNC, the access mode and
// O_APPEND). It returns the Attr with a reference taken, and an open File.
// Mirrors fs/namei.c:open_last_lookups(), lookup_open() and do_open(): a new
// file is opened without a permission check on itself; an existing one with
// O_CREAT|O_EXCL is EEXIST, a directory with O_CREAT EISDIR, and a symlink
// ELOOP (the door resolves links).
func (fs *FS) Create(c *Cred, parent Ino, name string, flags int, mode uint32) (Attr, *File, unix.Errno) {
	c = cred(c)
	// fs/open.c:build_open_flags(): O_CREAT with O_DIRECTORY is EINVAL;
	// O_TMPFILE (which includes O_DIRECTORY) is not offered here.
	switch {
	case flags&unix.O_TMPFILE == unix.O_TMPFILE:
		return Attr{}, nil, unix.EOPNOTSUPP
	case flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY:
		return Attr{}, nil, unix.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return Attr{}, nil, e
	}
	n, f, e := fs.createLocked(c, dir, name, flags, mode)
	if e != 0 {
		return Attr{}, nil, e
	}
	return fs.entryLocked(c, n), f, 0
}

// createLocked is Create once the parent is known. It also reports
// whether the file was created.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) createLocked(c *Cred, dir *inode, name string, flags int, mode uint32) (*inode, *File, unix.Errno) {
	n := fs.childLocked(dir, name)
	created := false
	fd := -1
	if n != nil {
		if flags&unix.O_CREAT != 0 {
			if flags&unix.O_EXCL != 0 {
				return nil, nil, unix.EEXIST
			}
			if n.isDir() {
				return nil, nil, unix.EISDIR
			}
			if e := fs.mayCreateInStickyLocked(c, dir, n); e != 0 {
				return nil, nil, e
			}
		}
	} else {
		if flags&unix.O_CREAT == 0 {
			return nil, nil, unix.ENOENT
		}
		if e := mayCreateLocked(c, dir); e != 0 {
			return nil, nil, e
		}
		var e unix.Errno
		if n, fd, e = fs.newChildOpenLocked(c, dir, name, unix.S_IFREG|mode&0o7777, 0, flags&backingOpenFlags); e != 0 {
			return nil, nil, e
		}
		created = true
	}
	f, e := fs.openLocked(c, n, flags, fd)
	if e != 0 {
		// A created name stays, as when the kernel fails after creating.
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, nil, e
	}
	f.Created = created
	return n, f, 0
}

// mayCreateInStickyLocked mirrors fs/namei.c:may_create_in_sticky(): an
// O_CREAT open of an existing file in a sticky directory, that belongs to
// neither the caller nor the directory's owner, is refused in a
// world-writable directory (or group-writable at level 2), even for root.
// fs.protected_regular and fs.protected_fifos exempt regular files and
// FIFOs when 0; other types (device nodes, sockets, symlinks) are never
// exempt.
//
// Preconditions: fs.mu is held.
func (fs *FS) mayCreateInStickyLocked(c *Cred, dir, n *inode) unix.Errno {
	if dir.mode&unix.S_ISVTX == 0 || n.uid == dir.uid || n.uid == c.UID || dir.mode&0o022 == 0 {
		return 0
	}
	// Only now does the answer depend on the sysctls.
	level := -1 // no sysctl exempts other types
	switch n.mode & unix.S_IFMT {
	case unix.S_IFREG:
		level = fs.sysctl("protected_regular", 0)
	case unix.S_IFIFO:
		level = fs.sysctl("protected_fifos", 0)
	}
	switch {
	case level == 0:
		return 0
	case dir.mode&0o002 != 0:
		return unix.EACCES
	case level >= 2:
		return unix.EACCES // group-writable
	}
	return 0
}

// Open opens an existing regular file with the caller's flags after the
// permission check; O_TRUNC truncates it. For other file types it makes
// the kernel's checks (a directory opened for writing is EISDIR, a symlink
// ELOOP, O_DIRECTORY on a non-directory ENOTDIR, then the permission bits)
// and answers EINVAL when they pass: the door serves directories, FIFOs,
// sockets and device nodes itself (both doors' mounts are nodev, where the
// kernel answers EACCES for devices).
func (fs *FS) Open(c *Cred, ino Ino, flags int) (*File, unix.Errno) {
	c = cred(c)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return nil, e
	}
	return fs.openLocked(c, n, flags, -1)
}

// openLocked mirrors fs/namei.c:do_open() and may_open() on an existing
// inode, then opens the backing file. createdFd >= 0 is the backing file
// of an inode just created (FMODE_CREATED): no permission check, no
// truncation, and the descriptor becomes the File's.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) openLocked(c *Cred, n *inode, flags int, createdFd int) (*File, unix.Errno) {
	created := createdFd >= 0
	if flags&unix.O_DIRECTORY != 0 && !n.isDir() {
		return nil, unix.ENOTDIR
	}
	acc := accMask(flags)
	trunc := flags&unix.O_TRUNC != 0
	if created {
		// fs/namei.c:do_open(): FMODE_CREATED skips the permission
		// check and the truncation.
		acc = 0
		trunc = false
	}
	switch n.mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	case unix.S_IFDIR:
		if acc&mayWrite != 0 {
			return nil, unix.EISDIR
		}
	}
	if e := permissionLocked(c, n, acc); e != 0 {
		return nil, e
	}
	if !n.isReg() {
		return nil, unix.EINVAL
	}
	fd := createdFd
	if !created {
		var e unix.Errno
		if fd, e = fs.back.open(n.ino, flags&backingOpenFlags); e != 0 {
			return nil, e
		}
	}
	if n.backIno == 0 {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			n.backIno = st.Ino
			fs.byBacking[st.Ino] = n.ino
		}
	}
	f := &File{Ino: n.ino, Flags: flags, Fd: fd, BackIno: n.backIno, n: n}
	if trunc {
		fs.viewInoLocked(n)
		// fs/namei.c:handle_truncate() -> do_truncate(): drops
		// privileges for a caller without CAP_FSETID.
		if e := fs.truncateLocked(n, 0, f); e != 0 {
			unix.Close(fd)
			return nil, e
		}
		if !c.capable(CapFsetid) {
			fs.syncPrivsLocked(n)
			n.mode &^= killPrivMaskLocked(c, n)
			fs.mirrorPrivsLocked(n)
		}
		n.ctime = now()
	}
	n.opens++
	return f, 0
}

// HandOut records that f's descriptor is installed in another process (a
// target of the supervised door), whose writes reach the backing file
// without fsimpl being told. Until f is released, the inode's attributes
// are Volatile when f is open for writing.
func (fs *FS) HandOut(f *File) {
	if f == nil || f.n == nil || !accWrites(f.Flags) {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	handOutLocked(f)
	fs.viewInoLocked(f.n)
}

// handOutLocked is HandOut.
//
// Preconditions: fs.mu is held for writing.
func handOutLocked(f *File) {
	if f.Fd >= 0 && !f.foreign && accWrites(f.Flags) {
		f.foreign = true
		f.n.foreignWriters++
	}
}

// BackingIno returns the inode whose backing file has device dev and inode
// number ino, for a descriptor on it that the caller found somewhere (a
// target's served descriptor). Only inodes opened at least once are known,
// and an inode is forgotten when it is freed, even if such a descriptor
// still refers to its (then unlinked) backing file.
func (fs *FS) BackingIno(dev, ino uint64) (Ino, bool) {
	if dev != fs.back.dev {
		return 0, false
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	i, ok := fs.byBacking[ino]
	return i, ok
}

// Release closes a File. Releasing a File twice is harmless.
func (fs *FS) Release(f *File) {
	if f == nil || f.n == nil {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Fd < 0 {
		return
	}
	fs.refreshAllocFd(f.n, f.Fd)
	unix.Close(f.Fd)
	f.Fd = -1
	if f.foreign {
		f.n.foreignWriters--
		fs.viewInoLocked(f.n)
	}
	f.n.opens--
	fs.maybeFreeLocked(f.n)
}

// Read reads through the File's backing descriptor (pread).
func (fs *FS) Read(f *File, buf []byte, off int64) (int, unix.Errno) {
	if f == nil || f.Fd < 0 {
		return 0, unix.EBADF
	}
	for {
		n, err := unix.Pread(f.Fd, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, errnoOf(err)
		}
		return n, 0
	}
}

// Write writes through the File's backing descriptor (pwrite; with O_APPEND
// the kernel appends whatever off says). killFor, when not nil, is the
// writer without CAP_FSETID: setuid and setgid are dropped first as
// fs/inode.c:file_remove_privs() would drop them for that caller.
func (fs *FS) Write(f *File, data []byte, off int64, killFor *Cred) (int, unix.Errno) {
	if f == nil || f.Fd < 0 || f.n == nil {
		return 0, unix.EBADF
	}
	if killFor != nil {
		fs.killPrivs(f.n, killFor)
	}
	if e := fs.checkSpace(f.n, off, int64(len(data))); e != 0 {
		return 0, e
	}
	for {
		n, err := unix.Pwrite(f.Fd, data, off)
		if err == unix.EINTR {
			continue
		}
		fs.refreshAllocFd(f.n, f.Fd)
		if err != nil {
			return 0, errnoOf(err)
		}
		return n, 0
	}
}

// killPrivs clears setuid/setgid of n as a write by c (without
// CAP_FSETID) must, and bumps ctime if anything changed.
func (fs *FS) killPrivs(n *inode, c *Cred) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.viewInoLocked(n)
	fs.syncPrivsLocked(n)
	if kill := killPrivMaskLocked(c, n) & n.mode; kill != 0 {
		n.mode &^= kill
		n.ctime = now()
		fs.mirrorPrivsLocked(n)
	}
}

// Fallocate allocates or punches a range natively on the backing file. Only
// what tmpfs supports is accepted (mm/shmem.c:shmem_fallocate): mode 0,
// KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE; anything else is EOPNOTSUPP after
// fs/open.c:vfs_fallocate()'s EINVAL for a bad range.
func (fs *FS) Fallocate(f *File, mode uint32, off, length int64) unix.Errno {
	if f == nil || f.Fd < 0 || f.n == nil {
		return unix.EBADF
	}
	if off < 0 || length <= 0 {
		return unix.EINVAL
	}
	switch mode {
	case 0, unix.FALLOC_FL_KEEP_SIZE:
		if e := fs.checkSpace(f.n, off, length); e != 0 {
			return e
		}
	case unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE:
	default:
		return unix.EOPNOTSUPP
	}
	for {
		err := unix.Fallocate(f.Fd, mode, off, length)
		if err == unix.EINTR {
			continue
		}
		fs.refreshAllocFd(f.n, f.Fd)
		return errnoOf(err)
	}
}

// Lseek moves the File's own offset (SEEK_SET/CUR/END/DATA/HOLE) with
// lseek on its descriptor and returns the new offset.
func (fs *FS) Lseek(f *File, off int64, whence int) (int64, unix.Errno) {
	if f == nil || f.Fd < 0 {
		return 0, unix.EBADF
	}
	r, err := unix.Seek(f.Fd, off, whence)
	if err != nil {
		return 0, errnoOf(err)
	}
	return r, 0
}

// Fsync succeeds: there is nothing durable to flush (yet).
func (fs *FS) Fsync(ino Ino) unix.Errno {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	_, e := fs.getLocked(ino)
	return e
}
