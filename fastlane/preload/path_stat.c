// The attribute readers: the stat family (glibc >= 2.33's stat/fstatat
// symbols and the older __xstat ones, which binaries built before 2.33
// still call), statx, access, readlink (with its fortified forms) and
// statfs.

#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"
#include "view.h"

static long do_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	// fstatat(fd, "", AT_EMPTY_PATH) is fstat, which the channel answers
	// for its own descriptors.
	if (path && !path[0] && (flags & AT_EMPTY_PATH)) {
		long r = fl_fstat(dirfd, st);
		if (r != FL_PASS)
			return r;
	}
	enum fl_where w = fl_route(dirfd, path);
	if (w == FL_PLAIN && dirfd != AT_FDCWD) {
		// A descriptor fl_route cannot place, perhaps a directory of
		// the mount: the view walks from its inode (statx, access and
		// readlink below likewise).
		long r = fl_view_fstatat(dirfd, path, st, flags);
		if (r != FL_PASS)
			return r;
	}
	return FL_SYSCALL(w, FL_VIEW_OR(fl_view_fstatat(dirfd, path, st, flags), fl_newfstatat(dirfd, path, st, flags)),
			  SYS_newfstatat, dirfd, path, st, flags, 0, 0);
}

FL_EXPORT int stat(const char *path, struct stat *st)
{
	return (int)fl_ret(do_fstatat(AT_FDCWD, path, st, 0));
}
FL_EXPORT int stat64(const char *path, struct stat64 *st) __attribute__((alias("stat")));

FL_EXPORT int lstat(const char *path, struct stat *st)
{
	return (int)fl_ret(do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW));
}
FL_EXPORT int lstat64(const char *path, struct stat64 *st) __attribute__((alias("lstat")));

FL_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)fl_ret(do_fstatat(dirfd, path, st, flags));
}
FL_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) __attribute__((alias("fstatat")));

// The pre-2.33 entry points take a structure version first; x86-64 glibc
// accepts _STAT_VER_KERNEL (0) and _STAT_VER_LINUX (1), the same layout.
#define STAT_VER_OK(v) ((v) == 0 || (v) == 1)

int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);

FL_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	return (int)fl_ret(STAT_VER_OK(ver) ? do_fstatat(AT_FDCWD, path, st, 0) : -EINVAL);
}
FL_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st) __attribute__((alias("__xstat")));

FL_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	return (int)fl_ret(STAT_VER_OK(ver) ? do_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) : -EINVAL);
}
FL_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st) __attribute__((alias("__lxstat")));

FL_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)fl_ret(STAT_VER_OK(ver) ? do_fstatat(dirfd, path, st, flags) : -EINVAL);
}
FL_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
	__attribute__((alias("__fxstatat")));

FL_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	enum fl_where w = fl_route(dirfd, path);
	if (w == FL_PLAIN && dirfd != AT_FDCWD) {
		long r = fl_view_statx(dirfd, path, flags, mask, stx);
		if (r != FL_PASS)
			return (int)fl_ret(r);
	}
	return (int)fl_ret(
		FL_SYSCALL(w, FL_VIEW_OR(fl_view_statx(dirfd, path, flags, mask, stx), fl_statx(dirfd, path, flags, mask, stx)),
			   SYS_statx, dirfd, path, flags, mask, stx, 0));
}

// faccessat with flags needs faccessat2 (Linux 5.8); where the kernel has
// none, glibc's emulation answers.
static long do_faccessat(int dirfd, const char *path, int mode, int flags)
{
	enum fl_where w = fl_route(dirfd, path);
	if (w == FL_PLAIN && dirfd != AT_FDCWD) {
		long r = fl_view_faccessat(dirfd, path, mode, flags);
		if (r != FL_PASS)
			return r;
	}
	if (flags == 0)
		return FL_SYSCALL(w, FL_VIEW_OR(fl_view_faccessat(dirfd, path, mode, 0), fl_faccessat2(dirfd, path, mode, 0)),
				  SYS_faccessat, dirfd, path, mode, 0, 0, 0);
	long r = FL_SYSCALL(w,
			    FL_VIEW_OR(fl_view_faccessat(dirfd, path, mode, flags),
				       fl_faccessat2(dirfd, path, mode, flags)),
			    SYS_faccessat2, dirfd, path, mode, flags, 0, 0);
	if (r == -ENOSYS) {
		int (*next)(int, const char *, int, int) = FL_NEXT(int (*)(int, const char *, int, int), faccessat);
		r = next(dirfd, path, mode, flags);
		if (r < 0)
			r = -errno;
	}
	return r;
}

FL_EXPORT int access(const char *path, int mode)
{
	return (int)fl_ret(do_faccessat(AT_FDCWD, path, mode, 0));
}

FL_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	return (int)fl_ret(do_faccessat(dirfd, path, mode, flags));
}

FL_EXPORT int euidaccess(const char *path, int mode)
{
	return (int)fl_ret(do_faccessat(AT_FDCWD, path, mode, AT_EACCESS));
}
FL_EXPORT int eaccess(const char *path, int mode) __attribute__((alias("euidaccess")));

static long do_readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	enum fl_where w = fl_route(dirfd, path);
	if (w == FL_PLAIN && dirfd != AT_FDCWD) {
		long r = fl_view_readlinkat(dirfd, path, buf, len);
		if (r != FL_PASS)
			return r;
	}
	return FL_SYSCALL(w, FL_VIEW_OR(fl_view_readlinkat(dirfd, path, buf, len), fl_readlinkat(dirfd, path, buf, len)),
			  SYS_readlinkat, dirfd, path, buf, len, 0, 0);
}

FL_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	return fl_ret(do_readlinkat(dirfd, path, buf, len));
}

FL_EXPORT ssize_t readlink(const char *path, char *buf, size_t len)
{
	return fl_ret(do_readlinkat(AT_FDCWD, path, buf, len));
}

// The fortified forms check the buffer first, as libc does (abort on
// overflow, through libc's own check).
void __chk_fail(void) __attribute__((noreturn));
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen);

FL_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return fl_ret(do_readlinkat(AT_FDCWD, path, buf, len));
}

FL_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return fl_ret(do_readlinkat(dirfd, path, buf, len));
}

FL_EXPORT int statfs(const char *path, struct statfs *buf)
{
	enum fl_where w = fl_route(AT_FDCWD, path);
	return (int)fl_ret(FL_SYSCALL(w, FL_PASS, SYS_statfs, path, buf, 0, 0, 0, 0));
}
FL_EXPORT int statfs64(const char *path, struct statfs64 *buf) __attribute__((alias("statfs")));
