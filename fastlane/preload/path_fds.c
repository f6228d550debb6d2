// The calls that copy or close descriptors behind close(2): dup, dup2,
// dup3, fcntl's F_DUPFD and F_DUPFD_CLOEXEC, close_range, closefrom and
// fclose (glibc's own close inside fclose does not reach close(2) here).
// Each is made as libc makes it; the library then brings the channel's
// table of the descriptors it opened up to date (channel_fds.c), so that a
// duplicate answers fstat like its original and the daemon releases the
// File with the last descriptor on it.

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

FL_EXPORT int dup(int fd)
{
	long r = fl_raw(SYS_dup, fd, 0, 0, 0, 0, 0);
	if (r >= 0)
		fl_dup(fd, (int)r);
	return (int)fl_ret(r);
}

// The library's own descriptors (the channel's) never were the
// program's: before a call replaces or closes one, fl_fds_spare moves it
// away, so that the call does what it does without the library.

FL_EXPORT int dup2(int oldfd, int newfd)
{
	fl_fds_spare((unsigned)oldfd, (unsigned)oldfd);
	fl_fds_spare((unsigned)newfd, (unsigned)newfd);
	long r = fl_raw(SYS_dup2, oldfd, newfd, 0, 0, 0, 0);
	if (r >= 0)
		fl_dup(oldfd, (int)r);
	return (int)fl_ret(r);
}

FL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	fl_fds_spare((unsigned)oldfd, (unsigned)oldfd);
	fl_fds_spare((unsigned)newfd, (unsigned)newfd);
	long r = fl_raw(SYS_dup3, oldfd, newfd, flags, 0, 0, 0);
	if (r >= 0)
		fl_dup(oldfd, (int)r);
	return (int)fl_ret(r);
}

// fcntl's third argument is an int or a pointer, as cmd says; libc's
// fcntl reads it as a pointer-sized word too, and has its own ways for
// some commands (F_GETOWN, the lock commands): the call goes to it whole.
static int do_fcntl(int (*next)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = next(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		fl_dup(fd, r);
	return r;
}

FL_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(FL_NEXT(int (*)(int, int, ...), fcntl), fd, cmd, arg);
}

FL_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(FL_NEXT(int (*)(int, int, ...), fcntl64), fd, cmd, arg);
}

// close_around closes [first, last] with close_range(2) but for the
// channel's own descriptors that cannot move out of it (fl_fds_keep: a
// range to the top of the table, as closefrom(3) makes), which it closes
// around, so that the channel keeps working. They stay at the numbers
// they had, which the program never saw as free.
static long close_around(unsigned int first, unsigned int last, int flags)
{
	int kept[3];
	int n = flags & CLOSE_RANGE_CLOEXEC ? 0 : fl_fds_keep(first, last, kept);
	unsigned long lo = first;
	for (int i = 0; i < n; i++) {
		if ((unsigned long)kept[i] > lo) {
			long r = fl_raw(SYS_close_range, lo, (unsigned)kept[i] - 1, flags, 0, 0, 0);
			if (r < 0)
				return r;
		}
		lo = (unsigned long)kept[i] + 1;
	}
	if (lo > last)
		return 0;
	return fl_raw(SYS_close_range, lo, last, flags, 0, 0, 0);
}

// close_range and closefrom close what the table does not see go: it
// forgets each descriptor of the range afterwards.
int close_range(unsigned int first, unsigned int last, int flags);
FL_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	long r = first > last ? fl_raw(SYS_close_range, first, last, flags, 0, 0, 0) : close_around(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		fl_closed_range(first, last);
	return (int)fl_ret(r);
}

// closefrom is close_range(lowfd, ~0U, 0), as glibc makes it; where the
// kernel has no close_range, glibc's own closefrom closes what /proc lists,
// the channel's descriptors too, so they are given up first.
void closefrom(int lowfd);
FL_EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0 || close_around((unsigned)lowfd, ~0U, 0) != 0) {
		if (lowfd >= 0)
			fl_fds_spare((unsigned)lowfd, ~0U);
		FL_NEXT(void (*)(int), closefrom)(lowfd);
	}
	if (lowfd >= 0)
		fl_closed_range((unsigned)lowfd, ~0U);
}

FL_EXPORT int fclose(FILE *f)
{
	if (f) {
		int fd = fileno(f);
		if (fd >= 0)
			fl_close(fd); // the channel forgets it; libc closes it
	}
	return FL_NEXT(int (*)(FILE *), fclose)(f);
}
