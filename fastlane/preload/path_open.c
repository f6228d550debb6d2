// The open family: open/openat and their 64-bit, fortified and creat
// forms, close and fstat (the channel's own descriptors), and the libc
// functions that open internally, where glibc's own call would bypass
// the interposition: opendir, fopen and freopen.

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

// As glibc's __OPEN_NEEDS_MODE: only these flags read the mode argument.
#define NEEDS_MODE(flags) (((flags) & O_CREAT) != 0 || ((flags) & __O_TMPFILE) == __O_TMPFILE)

// open_routed is openat(2) the way w says. Directory and O_PATH opens
// under the mount go to the kernel through the trampoline: the daemon
// would step aside for them (the seccomp lane CONTINUEs them to the FUSE
// mount), so asking it first only costs a round trip.
// pl is what the route learned (view.h), or NULL.
static long open_routed(enum fl_where w, int dirfd, const char *path, int flags, unsigned mode,
			const struct fl_place *pl)
{
	if ((w == FL_CHANNEL || w == FL_MOUNTFD) && (flags & (O_DIRECTORY | O_PATH)))
		w = fl_kernel_ok() ? FL_KERNEL : FL_PLAIN;
	return FL_SYSCALL(w, fl_openat_at(dirfd, path, flags, mode, pl), SYS_openat, dirfd, path, flags, mode, 0, 0);
}

// fl_do_openat is openat(2) routed: the kernel result, or -errno.
static long fl_do_openat(int dirfd, const char *path, int flags, unsigned mode)
{
	char buf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = buf};
	return open_routed(fl_route_at(dirfd, path, &pl), dirfd, path, flags, mode, &pl);
}

FL_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	unsigned mode = 0;
	if (NEEDS_MODE(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	return (int)fl_ret(fl_do_openat(dirfd, path, flags, mode));
}

FL_EXPORT int open(const char *path, int flags, ...)
{
	unsigned mode = 0;
	if (NEEDS_MODE(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, unsigned);
		va_end(ap);
	}
	return (int)fl_ret(fl_do_openat(AT_FDCWD, path, flags, mode));
}

// On x86-64 the 64-bit names are the same functions (O_LARGEFILE is what
// the kernel assumes there).
FL_EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));
FL_EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

FL_EXPORT int creat(const char *path, mode_t mode)
{
	return (int)fl_ret(fl_do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode));
}
FL_EXPORT int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

// The _FORTIFY_SOURCE entry points: a call that needs a mode it was not
// given goes to libc, which aborts with its own message.
int __open_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);

FL_EXPORT int __open_2(const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		return FL_NEXT(int (*)(const char *, int), __open_2)(path, flags);
	return (int)fl_ret(fl_do_openat(AT_FDCWD, path, flags, 0));
}
FL_EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

FL_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (NEEDS_MODE(flags))
		return FL_NEXT(int (*)(int, const char *, int), __openat_2)(dirfd, path, flags);
	return (int)fl_ret(fl_do_openat(dirfd, path, flags, 0));
}
FL_EXPORT int __openat64_2(int dirfd, const char *path, int flags) __attribute__((alias("__openat_2")));

FL_EXPORT int close(int fd)
{
	fl_fds_spare((unsigned)fd, (unsigned)fd); // not the program's: EBADF, as without the library
	fl_close(fd); // the channel forgets it; the kernel closes it either way
	return (int)fl_ret(fl_raw(SYS_close, fd, 0, 0, 0, 0, 0));
}

// fstat is a descriptor call: the ordinary syscall (the seccomp lane
// serves its served descriptors) unless the channel opened fd.
static long do_fstat(int fd, struct stat *st)
{
	long r = fl_fstat(fd, st);
	if (r == FL_PASS)
		r = fl_raw(SYS_fstat, fd, (long)st, 0, 0, 0, 0);
	return r;
}

FL_EXPORT int fstat(int fd, struct stat *st)
{
	return (int)fl_ret(do_fstat(fd, st));
}
FL_EXPORT int fstat64(int fd, struct stat64 *st) __attribute__((alias("fstat")));

int __fxstat(int ver, int fd, struct stat *st);
FL_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	if (ver != 0 && ver != 1) // _STAT_VER_KERNEL, _STAT_VER_LINUX
		return (int)fl_ret(-EINVAL);
	return (int)fl_ret(do_fstat(fd, st));
}
FL_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st) __attribute__((alias("__fxstat")));

// opendir is openat(O_DIRECTORY) and fdopendir, as in glibc; libc's own
// openat would not be interposed.
FL_EXPORT DIR *opendir(const char *path)
{
	enum fl_where w = fl_route(AT_FDCWD, path);
	if (w == FL_PLAIN)
		return FL_NEXT(DIR * (*)(const char *), opendir)(path);
	long fd = open_routed(w, AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	if (fd < 0) {
		errno = (int)-fd;
		return NULL;
	}
	DIR *d = fdopendir((int)fd);
	if (!d) {
		int e = errno;
		close((int)fd);
		errno = e;
	}
	return d;
}

// fopen_flags parses an fopen mode as glibc does (the first character,
// then up to six more), or returns -1 for what it leaves to libc: an
// invalid mode (libc sets EINVAL) or a ",ccs=" conversion.
static int fopen_flags(const char *mode)
{
	int flags;
	switch (mode[0]) {
	case 'r':
		flags = O_RDONLY;
		break;
	case 'w':
		flags = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	for (int i = 1; i < 7 && mode[i]; i++) {
		switch (mode[i]) {
		case '+':
			flags = (flags & ~O_ACCMODE) | O_RDWR;
			break;
		case 'x':
			flags |= O_EXCL;
			break;
		case 'e':
			flags |= O_CLOEXEC;
			break;
		}
	}
	if (strstr(mode, ",ccs="))
		return -1;
	return flags;
}

static FILE *do_fopen(const char *path, const char *mode, FILE *(*next)(const char *, const char *))
{
	int flags = fopen_flags(mode);
	char buf[FL_PLACE_SIZE];
	struct fl_place pl = {.buf = buf};
	enum fl_where w = flags < 0 ? FL_PLAIN : fl_route_at(AT_FDCWD, path, &pl);
	if (w == FL_PLAIN)
		return next(path, mode);
	long fd = open_routed(w, AT_FDCWD, path, flags, 0666, &pl);
	if (fd < 0) {
		errno = (int)-fd;
		return NULL;
	}
	FILE *f = fdopen((int)fd, mode);
	if (!f) {
		int e = errno;
		close((int)fd);
		errno = e;
		return NULL;
	}
	// fopen "a" (not "a+") starts at the end of the file, fdopen at the
	// descriptor's offset.
	if (mode[0] == 'a' && !(flags & O_RDWR) && fseeko(f, 0, SEEK_END) != 0) {
		int e = errno;
		fclose(f);
		errno = e;
		return NULL;
	}
	return f;
}

FL_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return do_fopen(path, mode, FL_NEXT(FILE * (*)(const char *, const char *), fopen));
}

FL_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return do_fopen(path, mode, FL_NEXT(FILE * (*)(const char *, const char *), fopen64));
}

// freopen of a path under the mount opens it on the lane, puts it at the
// stream's descriptor number (dup3, which the channel's table follows),
// and lets glibc reset the stream for mode with freopen(NULL), which
// reopens that descriptor through /proc/self/fd: the same file, the
// stream's number, the mode's flags. glibc's own freopen would open with
// its internal openat, which only the seccomp lane sees, and close the
// old descriptor behind the table's back. 'x' is dropped from the reopen:
// the lane's open already made the file exclusively.
static FILE *do_freopen(const char *path, const char *mode, FILE *stream,
			FILE *(*next)(const char *, const char *, FILE *))
{
	int old = stream ? fileno(stream) : -1;
	int flags = path && old >= 0 ? fopen_flags(mode) : -1;
	enum fl_where w = flags < 0 ? FL_PLAIN : fl_route(AT_FDCWD, path);
	char remode[8];
	size_t n = strlen(mode);
	// Only where the channel opens files itself: otherwise the open
	// would be the seccomp lane's, whose backing file a reopen through
	// /proc may not be allowed to open.
	if (w != FL_PLAIN && n < sizeof remode && fl_channel_opens()) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (mode[i] != 'x')
				remode[k++] = mode[i];
		remode[k] = 0;
		fflush(stream); // before the new file takes the descriptor
		long fd = open_routed(w, AT_FDCWD, path, flags, 0666, NULL);
		if (fd >= 0) {
			long r = fd == old ? 0 : fl_raw(SYS_dup3, fd, old, flags & O_CLOEXEC, 0, 0, 0);
			if (r >= 0) {
				fl_dup((int)fd, old);
				close((int)fd);
				return next(NULL, remode, stream);
			}
			close((int)fd);
		}
		// The lane could not: glibc's freopen makes the same open
		// (and fails the same way, leaving the stream as it does).
	}
	if (path && old >= 0)
		fl_close(old); // glibc replaces or closes the descriptor
	return next(path, mode, stream);
}

FL_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	return do_freopen(path, mode, stream, FL_NEXT(FILE * (*)(const char *, const char *, FILE *), freopen));
}

FL_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
	return do_freopen(path, mode, stream, FL_NEXT(FILE * (*)(const char *, const char *, FILE *), freopen64));
}
