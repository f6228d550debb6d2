//go:build linux && amd64 && cgo

package libcsys

/*
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

// open is variadic, which cgo cannot call.
static int ptx_open(const char *p, int flags, unsigned mode) { return open(p, flags, mode); }
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/posixtest"
)

// The structures are passed to libc in place: their sizes must agree (a
// constant index out of range does not compile).
var (
	_ = [1]struct{}{}[unsafe.Sizeof(unix.Stat_t{})-C.sizeof_struct_stat]
	_ = [1]struct{}{}[unsafe.Sizeof(unix.Statx_t{})-C.sizeof_struct_statx]
	_ = [1]struct{}{}[unsafe.Sizeof(unix.Statfs_t{})-C.sizeof_struct_statfs]
	_ = [1]struct{}{}[unsafe.Sizeof(unix.Timespec{})-C.sizeof_struct_timespec]
)

// Libc is the posixtest.Sys of libc's functions.
type Libc struct{}

var _ posixtest.Sys = Libc{}

// errOf is libc's result: nil for a success (r >= 0), else the errno the
// call set (EIO if it set none, which libc never does).
func errOf(r C.long, err error) error {
	if r >= 0 {
		return nil
	}
	if err == nil {
		return unix.EIO
	}
	return err
}

// intOf is errOf for the ssize_t-returning calls, with the count.
func intOf(r C.long, err error) (int, error) {
	if r >= 0 {
		return int(r), nil
	}
	return -1, errOf(r, err)
}

// str is s NUL-terminated for C, or EINVAL when s holds a NUL (what the
// Unix backend answers too).
func str(s string) (*C.char, error) {
	p, err := unix.BytePtrFromString(s)
	return (*C.char)(unsafe.Pointer(p)), err
}

// strs is str of two strings.
func strs(a, b string) (*C.char, *C.char, error) {
	ca, err := str(a)
	if err != nil {
		return nil, nil, err
	}
	cb, err := str(b)
	return ca, cb, err
}

// buf is b for C: NULL when empty, as C callers pass for a size query.
func buf(b []byte) (unsafe.Pointer, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(&b[0]), C.size_t(len(b))
}

func (Libc) Open(path string, flags int, mode uint32) (int, error) {
	p, err := str(path)
	if err != nil {
		return -1, err
	}
	r, err := C.ptx_open(p, C.int(flags), C.uint(mode))
	return intOf(C.long(r), err)
}

func (Libc) Close(fd int) error {
	r, err := C.close(C.int(fd))
	return errOf(C.long(r), err)
}

func (Libc) Stat(path string, st *unix.Stat_t) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.stat(p, (*C.struct_stat)(unsafe.Pointer(st)))
	return errOf(C.long(r), err)
}

func (Libc) Lstat(path string, st *unix.Stat_t) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.lstat(p, (*C.struct_stat)(unsafe.Pointer(st)))
	return errOf(C.long(r), err)
}

func (Libc) Fstat(fd int, st *unix.Stat_t) error {
	r, err := C.fstat(C.int(fd), (*C.struct_stat)(unsafe.Pointer(st)))
	return errOf(C.long(r), err)
}

func (Libc) Statx(path string, flags, mask int, stx *unix.Statx_t) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.statx(C.AT_FDCWD, p, C.int(flags), C.uint(mask), (*C.struct_statx)(unsafe.Pointer(stx)))
	return errOf(C.long(r), err)
}

func (Libc) Access(path string, mode uint32) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.access(p, C.int(mode))
	return errOf(C.long(r), err)
}

func (Libc) Readlink(path string, b []byte) (int, error) {
	p, err := str(path)
	if err != nil {
		return -1, err
	}
	bp, n := buf(b)
	r, err := C.readlink(p, (*C.char)(bp), n)
	return intOf(C.long(r), err)
}

func (Libc) Statfs(path string, st *unix.Statfs_t) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.statfs(p, (*C.struct_statfs)(unsafe.Pointer(st)))
	return errOf(C.long(r), err)
}

func (Libc) Mkdir(path string, mode uint32) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.mkdir(p, C.mode_t(mode))
	return errOf(C.long(r), err)
}

func (Libc) Rmdir(path string) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.rmdir(p)
	return errOf(C.long(r), err)
}

func (Libc) Unlink(path string) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.unlink(p)
	return errOf(C.long(r), err)
}

func (Libc) Mknod(path string, mode uint32, dev int) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.mknod(p, C.mode_t(mode), C.dev_t(dev))
	return errOf(C.long(r), err)
}

func (Libc) Renameat2(olddirfd int, oldpath string, newdirfd int, newpath string, flags uint) error {
	o, n, err := strs(oldpath, newpath)
	if err != nil {
		return err
	}
	r, err := C.renameat2(C.int(olddirfd), o, C.int(newdirfd), n, C.uint(flags))
	return errOf(C.long(r), err)
}

func (Libc) Link(oldpath, newpath string) error {
	o, n, err := strs(oldpath, newpath)
	if err != nil {
		return err
	}
	r, err := C.link(o, n)
	return errOf(C.long(r), err)
}

func (Libc) Symlink(target, path string) error {
	t, p, err := strs(target, path)
	if err != nil {
		return err
	}
	r, err := C.symlink(t, p)
	return errOf(C.long(r), err)
}

func (Libc) Chmod(path string, mode uint32) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.chmod(p, C.mode_t(mode))
	return errOf(C.long(r), err)
}

func (Libc) Fchmod(fd int, mode uint32) error {
	r, err := C.fchmod(C.int(fd), C.mode_t(mode))
	return errOf(C.long(r), err)
}

func (Libc) Chown(path string, uid, gid int) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.chown(p, C.uid_t(uid), C.gid_t(gid))
	return errOf(C.long(r), err)
}

func (Libc) Fchown(fd, uid, gid int) error {
	r, err := C.fchown(C.int(fd), C.uid_t(uid), C.gid_t(gid))
	return errOf(C.long(r), err)
}

func (Libc) Lchown(path string, uid, gid int) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.lchown(p, C.uid_t(uid), C.gid_t(gid))
	return errOf(C.long(r), err)
}

func (Libc) Truncate(path string, size int64) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	r, err := C.truncate(p, C.off_t(size))
	return errOf(C.long(r), err)
}

func (Libc) Ftruncate(fd int, size int64) error {
	r, err := C.ftruncate(C.int(fd), C.off_t(size))
	return errOf(C.long(r), err)
}

func (Libc) UtimesNanoAt(dirfd int, path string, ts []unix.Timespec, flags int) error {
	p, err := str(path)
	if err != nil {
		return err
	}
	var tp *C.struct_timespec
	if ts != nil {
		if len(ts) != 2 {
			return unix.EINVAL // as the Unix backend
		}
		tp = (*C.struct_timespec)(unsafe.Pointer(&ts[0]))
	}
	r, err := C.utimensat(C.int(dirfd), p, tp, C.int(flags))
	return errOf(C.long(r), err)
}

func (Libc) Setxattr(path, name string, data []byte, flags int) error {
	p, n, err := strs(path, name)
	if err != nil {
		return err
	}
	dp, dn := buf(data)
	r, err := C.setxattr(p, n, dp, dn, C.int(flags))
	return errOf(C.long(r), err)
}

func (Libc) Lsetxattr(path, name string, data []byte, flags int) error {
	p, n, err := strs(path, name)
	if err != nil {
		return err
	}
	dp, dn := buf(data)
	r, err := C.lsetxattr(p, n, dp, dn, C.int(flags))
	return errOf(C.long(r), err)
}

func (Libc) Fsetxattr(fd int, name string, data []byte, flags int) error {
	n, err := str(name)
	if err != nil {
		return err
	}
	dp, dn := buf(data)
	r, err := C.fsetxattr(C.int(fd), n, dp, dn, C.int(flags))
	return errOf(C.long(r), err)
}

func (Libc) Getxattr(path, name string, dest []byte) (int, error) {
	p, n, err := strs(path, name)
	if err != nil {
		return -1, err
	}
	dp, dn := buf(dest)
	r, err := C.getxattr(p, n, dp, dn)
	return intOf(C.long(r), err)
}

func (Libc) Lgetxattr(path, name string, dest []byte) (int, error) {
	p, n, err := strs(path, name)
	if err != nil {
		return -1, err
	}
	dp, dn := buf(dest)
	r, err := C.lgetxattr(p, n, dp, dn)
	return intOf(C.long(r), err)
}

func (Libc) Fgetxattr(fd int, name string, dest []byte) (int, error) {
	n, err := str(name)
	if err != nil {
		return -1, err
	}
	dp, dn := buf(dest)
	r, err := C.fgetxattr(C.int(fd), n, dp, dn)
	return intOf(C.long(r), err)
}

func (Libc) Listxattr(path string, dest []byte) (int, error) {
	p, err := str(path)
	if err != nil {
		return -1, err
	}
	dp, dn := buf(dest)
	r, err := C.listxattr(p, (*C.char)(dp), dn)
	return intOf(C.long(r), err)
}

func (Libc) Llistxattr(path string, dest []byte) (int, error) {
	p, err := str(path)
	if err != nil {
		return -1, err
	}
	dp, dn := buf(dest)
	r, err := C.llistxattr(p, (*C.char)(dp), dn)
	return intOf(C.long(r), err)
}

func (Libc) Removexattr(path, name string) error {
	p, n, err := strs(path, name)
	if err != nil {
		return err
	}
	r, err := C.removexattr(p, n)
	return errOf(C.long(r), err)
}

func (Libc) Lremovexattr(path, name string) error {
	p, n, err := strs(path, name)
	if err != nil {
		return err
	}
	r, err := C.lremovexattr(p, n)
	return errOf(C.long(r), err)
}

func (Libc) Read(fd int, b []byte) (int, error) {
	bp, n := buf(b)
	r, err := C.read(C.int(fd), bp, n)
	return intOf(C.long(r), err)
}

func (Libc) Write(fd int, b []byte) (int, error) {
	bp, n := buf(b)
	r, err := C.write(C.int(fd), bp, n)
	return intOf(C.long(r), err)
}

func (Libc) Pread(fd int, b []byte, off int64) (int, error) {
	bp, n := buf(b)
	r, err := C.pread(C.int(fd), bp, n, C.off_t(off))
	return intOf(C.long(r), err)
}

func (Libc) Pwrite(fd int, b []byte, off int64) (int, error) {
	bp, n := buf(b)
	r, err := C.pwrite(C.int(fd), bp, n, C.off_t(off))
	return intOf(C.long(r), err)
}

func (Libc) Seek(fd int, off int64, whence int) (int64, error) {
	r, err := C.lseek(C.int(fd), C.off_t(off), C.int(whence))
	if r >= 0 {
		return int64(r), nil
	}
	return -1, errOf(C.long(r), err)
}

func (Libc) Fallocate(fd int, mode uint32, off, length int64) error {
	r, err := C.fallocate(C.int(fd), C.int(mode), C.off_t(off), C.off_t(length))
	return errOf(C.long(r), err)
}

func (Libc) Fsync(fd int) error {
	r, err := C.fsync(C.int(fd))
	return errOf(C.long(r), err)
}

func (Libc) Fdatasync(fd int) error {
	r, err := C.fdatasync(C.int(fd))
	return errOf(C.long(r), err)
}

func (Libc) Getdents(fd int, b []byte) (int, error) {
	bp, n := buf(b)
	r, err := C.getdents64(C.int(fd), bp, n)
	return intOf(C.long(r), err)
}
