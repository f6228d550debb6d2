// The attribute changers and the extended attributes by path: chmod,
// chown, truncate, the utime family and the xattr calls.

#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "preload.h"

// A path call the channel has no operation for: the kernel or the
// ordinary syscall.
#define PATH_CALL(dirfd, path, nr, a, b, c, d, e, f) FL_SYSCALL(fl_route((dirfd), (path)), FL_PASS, nr, a, b, c, d, e, f)

FL_EXPORT int chmod(const char *path, mode_t mode)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_fchmodat, AT_FDCWD, path, mode, 0, 0, 0));
}

// With flags (AT_SYMLINK_NOFOLLOW), glibc emulates fchmodat through an
// O_PATH descriptor and /proc: left to it whole.
FL_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	if (flags != 0)
		return FL_NEXT(int (*)(int, const char *, mode_t, int), fchmodat)(dirfd, path, mode, flags);
	return (int)fl_ret(PATH_CALL(dirfd, path, SYS_fchmodat, dirfd, path, mode, 0, 0, 0));
}

FL_EXPORT int chown(const char *path, uid_t uid, gid_t gid)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_fchownat, AT_FDCWD, path, uid, gid, 0, 0));
}

FL_EXPORT int lchown(const char *path, uid_t uid, gid_t gid)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_fchownat, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW, 0));
}

FL_EXPORT int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	// fchownat(fd, "", AT_EMPTY_PATH) is fchown (fs/open.c:do_fchownat(),
	// after its flags check): the channel answers for its own
	// descriptors (fd_meta.c).
	const char *p = path;
	__asm__("" : "+r"(p)); // declared nonnull: keep the check (see utimensat)
	if (p && !p[0] && (flags & AT_EMPTY_PATH) && !(flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))) {
		long r = fl_fchown(dirfd, uid, gid);
		if (r != FL_PASS)
			return (int)fl_ret(r);
	}
	return (int)fl_ret(PATH_CALL(dirfd, path, SYS_fchownat, dirfd, path, uid, gid, flags, 0));
}

FL_EXPORT int truncate(const char *path, off_t len)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_truncate, path, len, 0, 0, 0, 0));
}
FL_EXPORT int truncate64(const char *path, off64_t len) __attribute__((alias("truncate")));

// glibc refuses a null path in utimensat (futimens is its own function).
// The header declares path nonnull, and gcc drops a plain null check of
// it whatever -fno-delete-null-pointer-checks says: the empty asm hides
// the value from the optimizer.
FL_EXPORT int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	__asm__("" : "+r"(path));
	if (!path)
		return (int)fl_ret(-EINVAL);
	return (int)fl_ret(PATH_CALL(dirfd, path, SYS_utimensat, dirfd, path, ts, flags, 0, 0));
}

// utimes, utime and futimesat the seccomp lane CONTINUEs everywhere:
// under the mount too they go straight to the kernel.
#define KERNEL_CALL(dirfd, path, nr, a, b, c, d, e, f)                                             \
	FL_SYSCALL(FL_KERNEL_UNLESS_PLAIN(fl_route((dirfd), (path))), FL_PASS, nr, a, b, c, d, e, f)

// futimens and futimes are utimensat(fd, NULL): a path syscall to the
// seccomp filter, notified from anywhere, which the seccomp lane leaves to
// the kernel for every descriptor it did not install. On a descriptor the
// channel opened (the backing file: tar sets each extracted file's times
// this way) the trampoline makes the same syscall without the round trip.
static long fd_times(int fd, const struct timespec *ts)
{
	if (fl_own_fd(fd) && !fl_faults_live())
		return fl_tramp(SYS_utimensat, fd, 0, (long)ts, 0, 0, 0);
	long r = syscall(SYS_utimensat, fd, NULL, ts, 0);
	return r < 0 ? -errno : r;
}

FL_EXPORT int futimens(int fd, const struct timespec ts[2])
{
	return (int)fl_ret(fd_times(fd, ts));
}

// timevals converts the timevals of futimes and lutimes to timespecs
// (*tsp NULL for a null tv: now); -1 for a microsecond count out of range,
// which the kernel refuses with EINVAL.
static int timevals(const struct timeval tv[2], struct timespec ts[2], struct timespec **tsp)
{
	*tsp = NULL;
	if (!tv)
		return 0;
	for (int i = 0; i < 2; i++) {
		if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
			return -1;
		ts[i].tv_sec = tv[i].tv_sec;
		ts[i].tv_nsec = tv[i].tv_usec * 1000;
	}
	*tsp = ts;
	return 0;
}

FL_EXPORT int futimes(int fd, const struct timeval tv[2])
{
	struct timespec ts[2], *tsp;
	if (timevals(tv, ts, &tsp) < 0)
		return (int)fl_ret(-EINVAL);
	return (int)fl_ret(fd_times(fd, tsp));
}

FL_EXPORT int utimes(const char *path, const struct timeval tv[2])
{
	return (int)fl_ret(KERNEL_CALL(AT_FDCWD, path, SYS_utimes, path, tv, 0, 0, 0, 0));
}

FL_EXPORT int utime(const char *path, const struct utimbuf *times)
{
	return (int)fl_ret(KERNEL_CALL(AT_FDCWD, path, SYS_utime, path, times, 0, 0, 0, 0));
}

// futimesat with a null path is futimes: the fd call, made the ordinary
// way by fl_route.
FL_EXPORT int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
	return (int)fl_ret(KERNEL_CALL(dirfd, path, SYS_futimesat, dirfd, path, tv, 0, 0, 0));
}

FL_EXPORT int lutimes(const char *path, const struct timeval tv[2])
{
	struct timespec ts[2], *tsp;
	if (timevals(tv, ts, &tsp) < 0)
		return (int)fl_ret(-EINVAL);
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_utimensat, AT_FDCWD, path, tsp, AT_SYMLINK_NOFOLLOW, 0, 0));
}

FL_EXPORT ssize_t getxattr(const char *path, const char *name, void *value, size_t size)
{
	return fl_ret(PATH_CALL(AT_FDCWD, path, SYS_getxattr, path, name, value, size, 0, 0));
}

FL_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	return fl_ret(PATH_CALL(AT_FDCWD, path, SYS_lgetxattr, path, name, value, size, 0, 0));
}

FL_EXPORT int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_setxattr, path, name, value, size, flags, 0));
}

FL_EXPORT int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_lsetxattr, path, name, value, size, flags, 0));
}

FL_EXPORT ssize_t listxattr(const char *path, char *list, size_t size)
{
	return fl_ret(PATH_CALL(AT_FDCWD, path, SYS_listxattr, path, list, size, 0, 0, 0));
}

FL_EXPORT ssize_t llistxattr(const char *path, char *list, size_t size)
{
	return fl_ret(PATH_CALL(AT_FDCWD, path, SYS_llistxattr, path, list, size, 0, 0, 0));
}

FL_EXPORT int removexattr(const char *path, const char *name)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_removexattr, path, name, 0, 0, 0, 0));
}

FL_EXPORT int lremovexattr(const char *path, const char *name)
{
	return (int)fl_ret(PATH_CALL(AT_FDCWD, path, SYS_lremovexattr, path, name, 0, 0, 0, 0));
}
