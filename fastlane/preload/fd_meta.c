// The descriptor calls that change or read a file's metadata: fchmod,
// fchown, the f*xattr calls, fstatfs and fstatvfs. On a descriptor the channel
// opened (the backing file, at a number the seccomp filter does not
// notify) the channel answers them for the filesystem's file; on any other
// they are the ordinary syscall, as before (the seccomp lane serves its
// own descriptors and leaves the rest to the kernel).

#define _GNU_SOURCE
#include <sys/stat.h>
#include <stdint.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "preload.h"

#ifndef ST_VALID
#define ST_VALID 0x0020 // linux/statfs.h: f_flags is filled in
#endif

// FD_CALL asks the channel with chan, then makes syscall nr on descriptor
// a when it passes: from the trampoline on a descriptor of another
// filesystem, otherwise the ordinary way, which the seccomp lane serves.
#define FD_CALL(chan, nr, a, b, c, d, e)                                                           \
	({                                                                                         \
		long r_ = (chan);                                                                  \
		if (r_ == FL_PASS || r_ == FL_KERNEL_PASS)                                         \
			r_ = (fl_fd_elsewhere(a) ? fl_tramp : fl_raw)((nr), (long)(a), (long)(b),  \
								  (long)(c), (long)(d), (long)(e), 0); \
		r_;                                                                                \
	})

FL_EXPORT int fchmod(int fd, mode_t mode)
{
	return (int)fl_ret(FD_CALL(fl_fchmod(fd, mode), SYS_fchmod, fd, mode, 0, 0, 0));
}

FL_EXPORT int fchown(int fd, uid_t uid, gid_t gid)
{
	return (int)fl_ret(FD_CALL(fl_fchown(fd, uid, gid), SYS_fchown, fd, uid, gid, 0, 0));
}

FL_EXPORT int fstatfs(int fd, struct statfs *buf)
{
	return (int)fl_ret(FD_CALL(fl_fstatfs(fd, buf), SYS_fstatfs, fd, buf, 0, 0, 0));
}
FL_EXPORT int fstatfs64(int fd, struct statfs64 *buf) __attribute__((alias("fstatfs")));

// fstatvfs: glibc's calls its internal fstatfs, which no interposition
// reaches, so the library converts the channel's statfs itself, as glibc
// does (sysdeps/unix/sysv/linux/internal_statvfs.c): f_frsize falls back
// to f_bsize, f_favail is f_ffree, both fsid words make f_fsid, f_flag is
// f_flags without ST_VALID. Any other descriptor: glibc's own.
FL_EXPORT int fstatvfs(int fd, struct statvfs *buf)
{
	struct statfs sf;
	struct statvfs *b = buf;
	__asm__("" : "+r"(b)); // declared nonnull: keep the check (see utimensat)
	long r = b ? fl_fstatfs(fd, &sf) : FL_PASS;
	if (r == FL_PASS || r == FL_KERNEL_PASS)
		return FL_NEXT(int (*)(int, struct statvfs *), fstatvfs)(fd, buf);
	if (r < 0)
		return (int)fl_ret(r);
	memset(buf, 0, sizeof *buf);
	buf->f_bsize = (unsigned long)sf.f_bsize;
	buf->f_frsize = (unsigned long)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
	buf->f_blocks = sf.f_blocks;
	buf->f_bfree = sf.f_bfree;
	buf->f_bavail = sf.f_bavail;
	buf->f_files = sf.f_files;
	buf->f_ffree = sf.f_ffree;
	buf->f_favail = sf.f_ffree;
	buf->f_fsid = (unsigned long)(uint32_t)sf.f_fsid.__val[0] | (unsigned long)(uint32_t)sf.f_fsid.__val[1] << 32;
	buf->f_namemax = (unsigned long)sf.f_namelen;
	buf->f_flag = (unsigned long)(sf.f_flags & ST_VALID ? sf.f_flags ^ ST_VALID : 0);
	return 0;
}
FL_EXPORT int fstatvfs64(int fd, struct statvfs64 *buf) __attribute__((alias("fstatvfs")));

FL_EXPORT ssize_t fgetxattr(int fd, const char *name, void *value, size_t size)
{
	return fl_ret(FD_CALL(fl_fgetxattr(fd, name, value, size), SYS_fgetxattr, fd, name, value, size, 0));
}

FL_EXPORT int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	return (int)fl_ret(
		FD_CALL(fl_fsetxattr(fd, name, value, size, flags), SYS_fsetxattr, fd, name, value, size, flags));
}

FL_EXPORT ssize_t flistxattr(int fd, char *list, size_t size)
{
	return fl_ret(FD_CALL(fl_flistxattr(fd, list, size), SYS_flistxattr, fd, list, size, 0, 0));
}

FL_EXPORT int fremovexattr(int fd, const char *name)
{
	return (int)fl_ret(FD_CALL(fl_fremovexattr(fd, name), SYS_fremovexattr, fd, name, 0, 0, 0));
}
