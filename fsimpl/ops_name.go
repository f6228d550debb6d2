package fsimpl

import (
	"math"
	"strings"

	"golang.org/x/sys/unix"
)

// checkName validates one name component: empty is ENOENT (as an empty path
// is), a '/' or NUL cannot be part of a component (EINVAL: the kernel would
// never send one), more than NameMax bytes is ENAMETOOLONG (mirrors
// fs/libfs.c:simple_lookup).
func checkName(name string) unix.Errno {
	switch {
	case name == "":
		return unix.ENOENT
	case strings.ContainsAny(name, "/\x00"):
		return unix.EINVAL
	case len(name) > NameMax:
		return unix.ENAMETOOLONG
	}
	return 0
}

func isDot(name string) bool { return name == "." || name == ".." }

// parentLocked returns directory ino after the search-permission check the
// path walk makes before every component (fs/namei.c:may_lookup), and then
// validates name.
//
// Preconditions: fs.mu is held.
func (fs *FS) parentLocked(c *Cred, ino Ino, name string) (*inode, unix.Errno) {
	dir, e := fs.getLocked(ino)
	if e != 0 {
		return nil, e
	}
	if !dir.isDir() || dir.dir == nil {
		return nil, unix.ENOTDIR
	}
	if e := permissionLocked(c, dir, mayExec); e != 0 {
		return nil, e
	}
	if e := checkName(name); e != 0 {
		return nil, e
	}
	return dir, 0
}

// Lookup finds name in parent (a reference is taken for the FUSE door).
// "." is the directory itself and ".." its parent (the root's parent is
// the root).
func (fs *FS) Lookup(c *Cred, parent Ino, name string) (Attr, unix.Errno) {
	c = cred(c)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.lookupLocked(c, parent, name)
	if e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

// lookupLocked finds name in directory parent for c, with its search
// permission checked.
//
// Preconditions: fs.mu is held.
func (fs *FS) lookupLocked(c *Cred, parent Ino, name string) (*inode, unix.Errno) {
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return nil, e
	}
	n := fs.childLocked(dir, name)
	if n == nil {
		return nil, unix.ENOENT
	}
	return n, 0
}

// childLocked resolves name in dir: "." is dir itself, ".." its parent,
// anything else an entry. It returns nil when there is none, and for the
// ".." of a removed directory whose parent has been freed since (removed
// after it, with no references left): that inode must not come back.
//
// Preconditions: fs.mu is held; dir is a live directory.
func (fs *FS) childLocked(dir *inode, name string) *inode {
	switch name {
	case ".":
		return dir
	case "..":
		if p := dir.dir.parent; fs.inodes[p.ino] == p {
			return p
		}
		return nil
	}
	return dir.dir.lookup(name)
}

// newChildLocked creates an inode of the given mode as name in dir. Owner and group follow
// fs/inode.c:inode_init_owner(): the caller's fsuid, and the caller's fsgid
// or, in a setgid directory, the directory's group (new subdirectories then
// inherit S_ISGID). mode has been prepared by the caller
// (vfs_prepare_mode); the setgid stripping of mode_strip_sgid() happens
// here.
//
// Preconditions: fs.mu is held for writing; name is a valid, free, non-dot
// name; may_create has passed.
func (fs *FS) newChildLocked(c *Cred, dir *inode, name string, mode uint32, rdev uint64) (*inode, unix.Errno) {
	n, _, e := fs.newChildOpenLocked(c, dir, name, mode, rdev, -1)
	return n, e
}

// newChildOpenLocked is newChildLocked that, for a regular file and
// openFlags >= 0, also returns the backing file opened with openFlags (one
// openat instead of two).
//
// Preconditions: as newChildLocked.
func (fs *FS) newChildOpenLocked(c *Cred, dir *inode, name string, mode uint32, rdev uint64, openFlags int) (*inode, int, unix.Errno) {
	fd := -1
	if e := fs.reserveInodeLocked(); e != 0 {
		return nil, -1, e
	}
	ino := fs.nextIno
	fs.nextIno++
	n := &inode{ino: ino, uid: c.UID, gid: c.GID, rdev: rdev, nlink: 1}
	if dir.mode&unix.S_ISGID != 0 {
		n.gid = dir.gid
		if mode&unix.S_IFMT == unix.S_IFDIR {
			mode |= unix.S_ISGID
		} else if mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP && !inGroupOrCapable(c, dir, dir.gid) {
			// fs/inode.c:mode_strip_sgid()
			mode &^= unix.S_ISGID
		}
	}
	n.mode = mode
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		var e unix.Errno
		if fd, e = fs.back.create(ino, openFlags); e != 0 {
			fs.releaseInodeLocked()
			return nil, -1, e
		}
		fs.mirrorPrivsLocked(n)
	case unix.S_IFDIR:
		n.nlink = 2
		n.dir = newDirData(dir)
		dir.nlink++
	}
	t := now()
	n.atime, n.mtime, n.ctime = t, t, t
	dir.mtime, dir.ctime = t, t
	dir.dir.add(name, n)
	fs.inodes[ino] = n
	fs.viewInoLocked(n)
	fs.viewDentLocked(dir, name)
	return n, fd, 0
}

// createCheckLocked is the part of fs/namei.c:filename_create() and
// may_create() common to mknod, mkdir, symlink and link: dots and existing
// names are EEXIST, then a dead directory is ENOENT and write+search
// permission is needed.
//
// Preconditions: fs.mu is held; dir passed parentLocked.
func createCheckLocked(c *Cred, dir *inode, name string) unix.Errno {
	if isDot(name) || dir.dir.lookup(name) != nil {
		return unix.EEXIST
	}
	return mayCreateLocked(c, dir)
}

// Mknod creates a regular file, FIFO, socket or device node. mode includes
// the file type (0 means regular); the caller has already applied its
// umask. Mirrors fs/namei.c:do_mknodat(), may_mknod() and vfs_mknod():
// directories are EPERM, unknown types EINVAL, device nodes other than the
// 0:0 whiteout need CAP_MKNOD.
func (fs *FS) Mknod(c *Cred, parent Ino, name string, mode uint32, rdev uint64) (Attr, unix.Errno) {
	c = cred(c)
	mode, e := mknodMode(mode)
	if e != 0 {
		return Attr{}, e
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return Attr{}, e
	}
	n, e := fs.mknodLocked(c, dir, name, mode, rdev)
	if e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

// mknodMode checks the type in a mknod mode as fs/namei.c:may_mknod()
// does, before any lookup (directories are EPERM, unknown types EINVAL),
// and returns the mode with 0 read as a regular file, keeping the type and
// permission bits only.
func mknodMode(mode uint32) (uint32, unix.Errno) {
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	return mode & (unix.S_IFMT | 0o7777), 0
}

// mknodLocked is Mknod once the parent is known and mode has a type.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) mknodLocked(c *Cred, dir *inode, name string, mode uint32, rdev uint64) (*inode, unix.Errno) {
	if e := createCheckLocked(c, dir, name); e != 0 {
		return nil, e
	}
	typ := mode & unix.S_IFMT
	whiteout := typ == unix.S_IFCHR && rdev == 0
	if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && !whiteout && !c.capable(CapMknod) {
		return nil, unix.EPERM
	}
	if typ == unix.S_IFREG {
		rdev = 0
	}
	return fs.newChildLocked(c, dir, name, mode, rdev)
}

// Mkdir creates a directory. Mirrors fs/namei.c:vfs_mkdir(): the mode keeps
// permission and sticky bits only; setgid comes from a setgid parent.
func (fs *FS) Mkdir(c *Cred, parent Ino, name string, mode uint32) (Attr, unix.Errno) {
	c = cred(c)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return Attr{}, e
	}
	n, e := fs.mkdirLocked(c, dir, name, mode)
	if e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

// mkdirLocked is Mkdir once the parent is known.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) mkdirLocked(c *Cred, dir *inode, name string, mode uint32) (*inode, unix.Errno) {
	if e := createCheckLocked(c, dir, name); e != 0 {
		return nil, e
	}
	if dir.nlink == math.MaxUint32 {
		return nil, unix.EMLINK
	}
	return fs.newChildLocked(c, dir, name, unix.S_IFDIR|mode&(0o777|unix.S_ISVTX), 0)
}

// Symlink creates a symbolic link to target. An empty target is ENOENT and
// one longer than PATH_MAX-1 bytes ENAMETOOLONG (fs/namei.c:getname and
// mm/shmem.c:shmem_symlink); a NUL cannot be part of it (EINVAL).
func (fs *FS) Symlink(c *Cred, parent Ino, name, target string) (Attr, unix.Errno) {
	c = cred(c)
	if e := checkSymlinkTarget(target); e != 0 {
		return Attr{}, e
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return Attr{}, e
	}
	n, e := fs.symlinkLocked(c, dir, name, target)
	if e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

func checkSymlinkTarget(target string) unix.Errno {
	switch {
	case target == "":
		return unix.ENOENT
	case len(target) >= pathMax:
		return unix.ENAMETOOLONG
	case strings.IndexByte(target, 0) >= 0:
		return unix.EINVAL
	}
	return 0
}

// symlinkLocked is Symlink once the parent is known and target checked.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) symlinkLocked(c *Cred, dir *inode, name, target string) (*inode, unix.Errno) {
	if e := createCheckLocked(c, dir, name); e != 0 {
		return nil, e
	}
	n, e := fs.newChildLocked(c, dir, name, unix.S_IFLNK|0o777, 0)
	if e != 0 {
		return nil, e
	}
	n.target = target
	fs.viewInoLocked(n)
	return n, 0
}

// Readlink returns the target of symlink ino (EINVAL for anything else).
// Reading a link updates its atime under relatime rules, as
// fs/namei.c:vfs_readlink() -> touch_atime() does on tmpfs.
func (fs *FS) Readlink(c *Cred, ino Ino) (string, unix.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return "", e
	}
	return fs.readlinkLocked(n)
}

// readlinkLocked is Readlink on inode n.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) readlinkLocked(n *inode) (string, unix.Errno) {
	if !n.isLink() {
		return "", unix.EINVAL
	}
	fs.touchAtimeLocked(n)
	return n.target, 0
}

// Link gives inode ino the new name newName in newParent. Mirrors
// fs/namei.c:do_linkat(), may_linkat() (fs.protected_hardlinks) and
// vfs_link(): directories are EPERM, an inode with no links left ENOENT.
// tmpfs charges each extra link as an inode (mm/shmem.c:shmem_link).
func (fs *FS) Link(c *Cred, ino Ino, newParent Ino, newName string) (Attr, unix.Errno) {
	c = cred(c)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return Attr{}, e
	}
	dir, e := fs.parentLocked(c, newParent, newName)
	if e != 0 {
		return Attr{}, e
	}
	if e := fs.linkLocked(c, n, dir, newName); e != 0 {
		return Attr{}, e
	}
	return fs.entryLocked(c, n), 0
}

// linkLocked is Link once both inodes are known.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) linkLocked(c *Cred, n, dir *inode, newName string) unix.Errno {
	if isDot(newName) || dir.dir.lookup(newName) != nil {
		return unix.EEXIST
	}
	if !safeHardlinkSourceLocked(c, n) && !ownerOrCapableLocked(c, n) && fs.sysctl("protected_hardlinks", 1) != 0 {
		return unix.EPERM
	}
	if e := mayCreateLocked(c, dir); e != 0 {
		return e
	}
	if n.isDir() {
		return unix.EPERM
	}
	if n.nlink == 0 {
		return unix.ENOENT
	}
	if n.nlink == math.MaxUint32 {
		return unix.EMLINK
	}
	if e := fs.reserveInodeLocked(); e != 0 {
		return e
	}
	t := now()
	n.nlink++
	n.ctime = t
	dir.mtime, dir.ctime = t, t
	dir.dir.add(newName, n)
	fs.viewInoLocked(n)
	fs.viewDentLocked(dir, newName)
	return 0
}

// safeHardlinkSourceLocked mirrors fs/namei.c:safe_hardlink_source(): a
// regular file that is neither setuid nor setgid-executable and that the
// caller may read and write.
//
// Preconditions: fs.mu is held.
func safeHardlinkSourceLocked(c *Cred, n *inode) bool {
	if !n.isReg() || n.mode&unix.S_ISUID != 0 {
		return false
	}
	if n.mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
		return false
	}
	return permissionLocked(c, n, mayRead|mayWrite) == 0
}

// Unlink removes name from parent. Mirrors fs/namei.c:do_unlinkat() (dots
// are EISDIR), may_delete() and mm/shmem.c:shmem_unlink().
func (fs *FS) Unlink(c *Cred, parent Ino, name string) unix.Errno {
	c = cred(c)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return e
	}
	_, e = fs.removeLocked(c, dir, name, false)
	return e
}

// removeLocked is Unlink (rmdir false) or Rmdir once the parent is known,
// and returns the inode it removed.
//
// Preconditions: fs.mu is held for writing; dir passed parentLocked.
func (fs *FS) removeLocked(c *Cred, dir *inode, name string, rmdir bool) (*inode, unix.Errno) {
	switch {
	case rmdir && name == ".":
		return nil, unix.EINVAL
	case rmdir && name == "..":
		return nil, unix.ENOTEMPTY
	case isDot(name):
		return nil, unix.EISDIR
	}
	n := dir.dir.lookup(name)
	if n == nil {
		return nil, unix.ENOENT
	}
	if e := mayDeleteLocked(c, dir, n, rmdir); e != 0 {
		return nil, e
	}
	if rmdir && n.dir.live != 0 {
		return nil, unix.ENOTEMPTY
	}
	fs.unlinkLocked(dir, name, n, now())
	return n, 0
}

// unlinkLocked drops the entry name -> n from dir (mm/shmem.c:shmem_unlink,
// plus shmem_rmdir's extra link drops for a directory).
//
// Preconditions: fs.mu is held for writing; the checks have passed.
func (fs *FS) unlinkLocked(dir *inode, name string, n *inode, t unix.Timespec) {
	dir.dir.remove(name)
	fs.viewInoLocked(n)
	fs.viewDentLocked(dir, name)
	if n.isDir() {
		n.nlink = 0
		dir.nlink--
	} else {
		if n.nlink > 1 {
			fs.releaseInodeLocked()
		}
		n.nlink--
	}
	n.ctime = t
	dir.mtime, dir.ctime = t, t
	fs.maybeFreeLocked(n)
}

// Rmdir removes the empty directory name from parent. Mirrors
// fs/namei.c:do_rmdir() ("." is EINVAL, ".." ENOTEMPTY), may_delete() and
// fs/libfs.c:simple_empty().
func (fs *FS) Rmdir(c *Cred, parent Ino, name string) unix.Errno {
	c = cred(c)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir, e := fs.parentLocked(c, parent, name)
	if e != 0 {
		return e
	}
	_, e = fs.removeLocked(c, dir, name, true)
	return e
}
