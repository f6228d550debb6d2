package fsimpl

// This file is the contract both doors program against. The fsimpl helper
// replaces these stubs with the real implementation (spread over files by
// concept) and deletes this file; signatures may only change in agreement
// with the FUSE adapter.

import "golang.org/x/sys/unix"

// Options configure a new filesystem.
type Options struct {
	// SizeBytes caps the bytes of file data (0: half of RAM).
	SizeBytes uint64
	// Inodes caps the number of inodes of every kind (0: the same default as
	// tmpfs, half the RAM pages).
	Inodes uint64
	// Backing chooses where file contents live: BackingAuto tries a private
	// detached tmpfs and falls back to a 0700 directory under /dev/shm.
	Backing BackingKind
}

// File is an open regular file: a backing file descriptor opened with the
// caller's access mode and O_APPEND, owned by the File until Release. The
// supervised door installs a dup of Fd into the target; the FUSE door
// registers it for passthrough or reads and writes through it.
type File struct {
	Ino   Ino
	Flags int // the open flags as the caller gave them
	Fd    int
}

// New creates an empty filesystem whose root is owned by root with mode 0755.
func New(opts Options) (*FS, error) { return nil, unix.ENOSYS }

// Close releases the backing store. Open Files must be released first.
func (fs *FS) Close() error { return nil }

// Every method that returns an Attr for a name (Lookup, Mknod, Mkdir,
// Symlink, Link, Create) takes one reference on that inode for the caller,
// like a FUSE lookup count; the caller gives it back with Forget. An inode is
// freed (its backing file removed) when it has no links, no references and
// no open Files.

func (fs *FS) Lookup(c *Cred, parent Ino, name string) (Attr, unix.Errno) { return Attr{}, unix.ENOSYS }
func (fs *FS) Forget(ino Ino, n uint64)                                 {}
func (fs *FS) GetAttr(ino Ino) (Attr, unix.Errno)                       { return Attr{}, unix.ENOSYS }

// SetAttr changes mode, owner, size and times with the kernel's permission
// rules (notify_change/setattr_prepare). h, when not nil, is the open File
// the request came through (ftruncate, futimens): a size change is then
// authorised by its access mode instead of the inode's permission bits.
func (fs *FS) SetAttr(c *Cred, ino Ino, in *SetAttrIn, h *File) (Attr, unix.Errno) {
	return Attr{}, unix.ENOSYS
}

// Mknod creates a regular file, FIFO, socket or device node. mode includes
// the file type; the caller has already applied its umask.
func (fs *FS) Mknod(c *Cred, parent Ino, name string, mode uint32, rdev uint64) (Attr, unix.Errno) {
	return Attr{}, unix.ENOSYS
}
func (fs *FS) Mkdir(c *Cred, parent Ino, name string, mode uint32) (Attr, unix.Errno) {
	return Attr{}, unix.ENOSYS
}
func (fs *FS) Symlink(c *Cred, parent Ino, name, target string) (Attr, unix.Errno) {
	return Attr{}, unix.ENOSYS
}
func (fs *FS) Link(c *Cred, ino Ino, newParent Ino, newName string) (Attr, unix.Errno) {
	return Attr{}, unix.ENOSYS
}
func (fs *FS) Unlink(c *Cred, parent Ino, name string) unix.Errno { return unix.ENOSYS }
func (fs *FS) Rmdir(c *Cred, parent Ino, name string) unix.Errno  { return unix.ENOSYS }

// Rename implements rename(2) and renameat2(2) flags RENAME_NOREPLACE and
// RENAME_EXCHANGE.
func (fs *FS) Rename(c *Cred, oldParent Ino, oldName string, newParent Ino, newName string, flags uint32) unix.Errno {
	return unix.ENOSYS
}
func (fs *FS) Readlink(c *Cred, ino Ino) (string, unix.Errno) { return "", unix.ENOSYS }

// Access checks mask (R_OK|W_OK|X_OK, or F_OK) for c.
func (fs *FS) Access(c *Cred, ino Ino, mask uint32) unix.Errno { return unix.ENOSYS }

// Create opens name in parent, creating it as a regular file with mode when
// it does not exist (flags carry O_CREAT, O_EXCL, O_TRUNC, the access mode and
// O_APPEND). It returns the Attr with a reference taken, and an open File.
func (fs *FS) Create(c *Cred, parent Ino, name string, flags int, mode uint32) (Attr, *File, unix.Errno) {
	return Attr{}, nil, unix.ENOSYS
}

// Open opens an existing regular file with the caller's flags after the
// permission check; O_TRUNC truncates it.
func (fs *FS) Open(c *Cred, ino Ino, flags int) (*File, unix.Errno) { return nil, unix.ENOSYS }

// Release closes a File.
func (fs *FS) Release(f *File) {}

// Read and Write move data through the File's backing descriptor; they are
// for doors that cannot hand the descriptor itself to the reader (the FUSE
// door without passthrough). killSUIDGID clears setuid/setgid as a write by
// an unprivileged caller must.
func (fs *FS) Read(f *File, buf []byte, off int64) (int, unix.Errno) { return 0, unix.ENOSYS }
func (fs *FS) Write(f *File, data []byte, off int64, killSUIDGID bool) (int, unix.Errno) {
	return 0, unix.ENOSYS
}
func (fs *FS) Fallocate(f *File, mode uint32, off, length int64) unix.Errno { return unix.ENOSYS }
func (fs *FS) Lseek(f *File, off int64, whence int) (int64, unix.Errno)    { return 0, unix.ENOSYS }
func (fs *FS) Fsync(ino Ino) unix.Errno                                    { return unix.ENOSYS }

// OpenDir checks that c may open directory ino for reading.
func (fs *FS) OpenDir(c *Cred, ino Ino) unix.Errno { return unix.ENOSYS }

// ReadDir calls fn for the entries of directory ino whose cookie is greater
// than off, in cookie order, "." and ".." first (cookies 1 and 2), until fn
// returns false.
func (fs *FS) ReadDir(ino Ino, off uint64, fn func(Dirent) bool) unix.Errno { return unix.ENOSYS }

func (fs *FS) StatFs() StatFs { return StatFs{} }

// Extended attributes: user.* and trusted.* (the latter for root only);
// other namespaces answer EOPNOTSUPP. GetXattr and ListXattr return the whole
// value; the door handles size probing and ERANGE.
func (fs *FS) GetXattr(c *Cred, ino Ino, name string) ([]byte, unix.Errno) { return nil, unix.ENOSYS }
func (fs *FS) ListXattr(c *Cred, ino Ino) ([]string, unix.Errno)          { return nil, unix.ENOSYS }
func (fs *FS) SetXattr(c *Cred, ino Ino, name string, value []byte, flags int) unix.Errno {
	return unix.ENOSYS
}
func (fs *FS) RemoveXattr(c *Cred, ino Ino, name string) unix.Errno { return unix.ENOSYS }

// FS is the filesystem.
type FS struct{}

// BackingKind selects where file contents live.
type BackingKind int

const (
	// BackingAuto uses a private tmpfs when the daemon may mount one, and a
	// 0700 directory under /dev/shm otherwise.
	BackingAuto BackingKind = iota
	// BackingTmpfs is a tmpfs created with fsopen/fsmount and never attached
	// to any path: reachable only through the daemon's directory fd.
	BackingTmpfs
	// BackingShm is a 0700 directory under /dev/shm, removed at Close.
	BackingShm
)
