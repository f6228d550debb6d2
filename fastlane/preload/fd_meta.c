// The descriptor calls that change or read a file's metadata: fchmod,
// fchown, the f*xattr calls and fstatfs. On a descriptor the channel
// opened (the backing file, at a number the seccomp filter does not
// notify) the channel answers them for the filesystem's file; on any other
// they are the ordinary syscall, as before (the seccomp lane serves its
// own descriptors and leaves the rest to the kernel).

#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "preload.h"

// FD_CALL asks the channel with chan, then makes the ordinary syscall nr
// when it passes.
#define FD_CALL(chan, nr, a, b, c, d, e)                                                           \
	({                                                                                         \
		long r_ = (chan);                                                                  \
		if (r_ == FL_PASS || r_ == FL_KERNEL_PASS)                                         \
			r_ = fl_raw((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0);      \
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
