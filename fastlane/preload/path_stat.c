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

// FL_VIEWCALL is the view's answer (view.c) for a path under the mount
// (routed to the channel, or relative to a directory descriptor of the
// mount, which the view places by its inode number), and otherwise the
// call's way without it (other, an FL_SYSCALL or FL_ATTRCALL expression):
// the view needs no round trip, so it comes before the channel and before
// the kernel's caches.
#define FL_VIEWCALL(w, view, other)                                                                \
	({                                                                                         \
		enum fl_where wv_ = (w);                                                           \
		long rv_ = FL_PASS;                                                                \
		if (wv_ == FL_CHANNEL || wv_ == FL_MOUNTFD)                                        \
			rv_ = (view);                                                              \
		rv_ == FL_PASS ? (other) : rv_;                                                    \
	})

static long do_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	// fstatat(fd, "", AT_EMPTY_PATH) is fstat, which the channel answers
	// for its own descriptors.
	if (path && !path[0] && (flags & AT_EMPTY_PATH)) {
		long r = fl_fstat(dirfd, st);
		if (r != FL_PASS)
			return r;
	}
	char buf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = buf};
	enum fl_where w = fl_route_at(dirfd, path, &pl);
	return FL_VIEWCALL(w, fl_view_fstatat(dirfd, path, st, flags, &pl),
			   FL_ATTRCALL(w, fl_newfstatat(dirfd, path, st, flags), SYS_newfstatat, dirfd, path, st, flags, 0, 0));
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
	// statx(fd, "", AT_EMPTY_PATH) is about fd itself: the channel
	// answers for its own descriptors (fd_meta.c).
	const char *p = path;
	__asm__("" : "+r"(p)); // declared nonnull: keep the check (see utimensat)
	if (p && !p[0] && (flags & AT_EMPTY_PATH)) {
		long r = fl_fstatx(dirfd, flags, mask, stx);
		if (r != FL_PASS)
			return (int)fl_ret(r);
	}
	char buf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = buf};
	enum fl_where w = fl_route_at(dirfd, path, &pl);
	return (int)fl_ret(
		FL_VIEWCALL(w, fl_view_statx(dirfd, path, flags, mask, stx, &pl),
			    FL_ATTRCALL(w, fl_statx(dirfd, path, flags, mask, stx), SYS_statx, dirfd, path, flags, mask, stx, 0)));
}

// faccessat with flags needs faccessat2 (Linux 5.8); where the kernel has
// none, glibc's emulation answers.
static long do_faccessat(int dirfd, const char *path, int mode, int flags)
{
	char buf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = buf};
	enum fl_where w = fl_route_at(dirfd, path, &pl);
	if (flags == 0)
		return FL_VIEWCALL(w, fl_view_faccessat(dirfd, path, mode, 0, &pl),
				   FL_ATTRCALL(w, fl_faccessat2(dirfd, path, mode, 0), SYS_faccessat, dirfd, path, mode, 0, 0, 0));
	long r = FL_VIEWCALL(w, fl_view_faccessat(dirfd, path, mode, flags, &pl),
			     FL_ATTRCALL(w, fl_faccessat2(dirfd, path, mode, flags), SYS_faccessat2, dirfd, path, mode, flags,
					 0, 0));
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
	char pbuf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = pbuf};
	enum fl_where w = fl_route_at(dirfd, path, &pl);
	// Not FL_ATTRCALL: the kernel does not cache a FUSE symlink's target,
	// so the FUSE mount costs a round trip more than the channel.
	return FL_VIEWCALL(w, fl_view_readlinkat(dirfd, path, buf, len, &pl),
			   FL_SYSCALL(w, fl_readlinkat(dirfd, path, buf, len), SYS_readlinkat, dirfd, path, buf, len, 0, 0));
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
