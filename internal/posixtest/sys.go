package posixtest

import (
	"golang.org/x/sys/unix"
)

// Sys is the system interface of the package: every file call that the
// cases, the random engine, the name probe and the tree snapshot make goes
// through it, with golang.org/x/sys/unix's signatures and errors (a
// unix.Errno). The default, Unix, makes bare syscalls; package libcsys
// calls libc's functions instead, as C programs call them, so that a
// preloaded library (btfuse's fast lane) interposes them. Credentials (As)
// and clocks are not file calls and stay bare syscalls.
type Sys interface {
	Open(path string, flags int, mode uint32) (int, error)
	Close(fd int) error
	Stat(path string, st *unix.Stat_t) error
	Lstat(path string, st *unix.Stat_t) error
	Fstat(fd int, st *unix.Stat_t) error
	// Statx is statx(2) at AT_FDCWD.
	Statx(path string, flags, mask int, stx *unix.Statx_t) error
	Access(path string, mode uint32) error
	Readlink(path string, buf []byte) (int, error)
	Statfs(path string, st *unix.Statfs_t) error

	Mkdir(path string, mode uint32) error
	Rmdir(path string) error
	Unlink(path string) error
	Mknod(path string, mode uint32, dev int) error
	// Renameat2 is renameat2(2); both directories are AT_FDCWD here.
	Renameat2(olddirfd int, oldpath string, newdirfd int, newpath string, flags uint) error
	Link(oldpath, newpath string) error
	Symlink(target, path string) error

	Chmod(path string, mode uint32) error
	Fchmod(fd int, mode uint32) error
	Chown(path string, uid, gid int) error
	Fchown(fd, uid, gid int) error
	Lchown(path string, uid, gid int) error
	Truncate(path string, size int64) error
	Ftruncate(fd int, size int64) error
	// UtimesNanoAt is utimensat(2); nil ts means both UTIME_NOW.
	UtimesNanoAt(dirfd int, path string, ts []unix.Timespec, flags int) error

	Setxattr(path, name string, data []byte, flags int) error
	Lsetxattr(path, name string, data []byte, flags int) error
	Fsetxattr(fd int, name string, data []byte, flags int) error
	Getxattr(path, name string, dest []byte) (int, error)
	Lgetxattr(path, name string, dest []byte) (int, error)
	Fgetxattr(fd int, name string, dest []byte) (int, error)
	Listxattr(path string, dest []byte) (int, error)
	Llistxattr(path string, dest []byte) (int, error)
	Removexattr(path, name string) error
	Lremovexattr(path, name string) error

	Read(fd int, p []byte) (int, error)
	Write(fd int, p []byte) (int, error)
	Pread(fd int, p []byte, off int64) (int, error)
	Pwrite(fd int, p []byte, off int64) (int, error)
	Seek(fd int, off int64, whence int) (int64, error)
	Fallocate(fd int, mode uint32, off, length int64) error
	Fsync(fd int) error
	Fdatasync(fd int) error
	// Getdents is one getdents64(2) call.
	Getdents(fd int, buf []byte) (int, error)
}

// sys is the Sys in use: Unix unless Use said otherwise.
var sys Sys = Unix{}

// Use makes every later call of the package go through s. Call it once,
// before any case or sequence runs (it is not synchronized with them).
func Use(s Sys) { sys = s }

// Unix is the Sys of bare syscalls, through golang.org/x/sys/unix.
type Unix struct{}

var _ Sys = Unix{}

func (Unix) Open(path string, flags int, mode uint32) (int, error) {
	return unix.Open(path, flags, mode)
}
func (Unix) Close(fd int) error                       { return unix.Close(fd) }
func (Unix) Stat(path string, st *unix.Stat_t) error  { return unix.Stat(path, st) }
func (Unix) Lstat(path string, st *unix.Stat_t) error { return unix.Lstat(path, st) }
func (Unix) Fstat(fd int, st *unix.Stat_t) error      { return unix.Fstat(fd, st) }
func (Unix) Access(path string, mode uint32) error    { return unix.Access(path, mode) }
func (Unix) Readlink(path string, buf []byte) (int, error) {
	return unix.Readlink(path, buf)
}
func (Unix) Statfs(path string, st *unix.Statfs_t) error { return unix.Statfs(path, st) }
func (Unix) Statx(path string, flags, mask int, stx *unix.Statx_t) error {
	return unix.Statx(unix.AT_FDCWD, path, flags, mask, stx)
}

func (Unix) Mkdir(path string, mode uint32) error { return unix.Mkdir(path, mode) }
func (Unix) Rmdir(path string) error              { return unix.Rmdir(path) }
func (Unix) Unlink(path string) error             { return unix.Unlink(path) }
func (Unix) Mknod(path string, mode uint32, dev int) error {
	return unix.Mknod(path, mode, dev)
}
func (Unix) Renameat2(olddirfd int, oldpath string, newdirfd int, newpath string, flags uint) error {
	return unix.Renameat2(olddirfd, oldpath, newdirfd, newpath, flags)
}
func (Unix) Link(oldpath, newpath string) error { return unix.Link(oldpath, newpath) }
func (Unix) Symlink(target, path string) error  { return unix.Symlink(target, path) }

func (Unix) Chmod(path string, mode uint32) error   { return unix.Chmod(path, mode) }
func (Unix) Fchmod(fd int, mode uint32) error       { return unix.Fchmod(fd, mode) }
func (Unix) Chown(path string, uid, gid int) error  { return unix.Chown(path, uid, gid) }
func (Unix) Fchown(fd, uid, gid int) error          { return unix.Fchown(fd, uid, gid) }
func (Unix) Lchown(path string, uid, gid int) error { return unix.Lchown(path, uid, gid) }
func (Unix) Truncate(path string, size int64) error { return unix.Truncate(path, size) }
func (Unix) Ftruncate(fd int, size int64) error     { return unix.Ftruncate(fd, size) }
func (Unix) UtimesNanoAt(dirfd int, path string, ts []unix.Timespec, flags int) error {
	return unix.UtimesNanoAt(dirfd, path, ts, flags)
}

func (Unix) Setxattr(path, name string, data []byte, flags int) error {
	return unix.Setxattr(path, name, data, flags)
}
func (Unix) Lsetxattr(path, name string, data []byte, flags int) error {
	return unix.Lsetxattr(path, name, data, flags)
}
func (Unix) Fsetxattr(fd int, name string, data []byte, flags int) error {
	return unix.Fsetxattr(fd, name, data, flags)
}
func (Unix) Getxattr(path, name string, dest []byte) (int, error) {
	return unix.Getxattr(path, name, dest)
}
func (Unix) Lgetxattr(path, name string, dest []byte) (int, error) {
	return unix.Lgetxattr(path, name, dest)
}
func (Unix) Fgetxattr(fd int, name string, dest []byte) (int, error) {
	return unix.Fgetxattr(fd, name, dest)
}
func (Unix) Listxattr(path string, dest []byte) (int, error)  { return unix.Listxattr(path, dest) }
func (Unix) Llistxattr(path string, dest []byte) (int, error) { return unix.Llistxattr(path, dest) }
func (Unix) Removexattr(path, name string) error              { return unix.Removexattr(path, name) }
func (Unix) Lremovexattr(path, name string) error             { return unix.Lremovexattr(path, name) }

func (Unix) Read(fd int, p []byte) (int, error)              { return unix.Read(fd, p) }
func (Unix) Write(fd int, p []byte) (int, error)             { return unix.Write(fd, p) }
func (Unix) Pread(fd int, p []byte, off int64) (int, error)  { return unix.Pread(fd, p, off) }
func (Unix) Pwrite(fd int, p []byte, off int64) (int, error) { return unix.Pwrite(fd, p, off) }
func (Unix) Seek(fd int, off int64, whence int) (int64, error) {
	return unix.Seek(fd, off, whence)
}
func (Unix) Fallocate(fd int, mode uint32, off, length int64) error {
	return unix.Fallocate(fd, mode, off, length)
}
func (Unix) Fsync(fd int) error                       { return unix.Fsync(fd) }
func (Unix) Fdatasync(fd int) error                   { return unix.Fdatasync(fd) }
func (Unix) Getdents(fd int, buf []byte) (int, error) { return unix.Getdents(fd, buf) }
