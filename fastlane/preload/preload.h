// Internal declarations of the preload library (libbtfuse-fast.so): the
// entry side's state, its two ways into the kernel and the routing of a
// path call. See preload.c for the design.
#pragma once

#include <errno.h>
#include <stddef.h>

#include "channel.h"

// FL_EXPORT marks the libc functions the library interposes; everything
// else is hidden (-fvisibility=hidden), so the library adds no other
// symbol to the program's namespace.
#define FL_EXPORT __attribute__((visibility("default")))

// A syscall with six arguments, returning the kernel's result (>= 0 or
// -errno), made by the same few instructions in two places:
//   fl_raw: in the library's own text. The filter notifies path syscalls
//     from there like any other: the ordinary way, served by the seccomp lane.
//   fl_tramp: the copy in the trampoline page, whose path syscalls the
//     filter allows; fl_raw when the page could not be mapped.
typedef long (*fl_syscall_fn)(long nr, long a, long b, long c, long d, long e, long f);
long fl_raw(long nr, long a, long b, long c, long d, long e, long f);
extern fl_syscall_fn fl_tramp;

// Where a path call goes.
enum fl_where {
	FL_KERNEL,  // lexically outside the mount: the trampoline, straight to the kernel
	FL_CHANNEL, // under the mount: the channel first, then the ordinary syscall
	FL_PLAIN,   // not known: the ordinary syscall
};

// fl_route classifies (dirfd, path) as a path syscall would resolve it.
// It never fails: what it cannot decide is FL_PLAIN, which is always
// correct, and so is FL_KERNEL for any path (the kernel sends paths in the
// mount through the FUSE mount of the same filesystem): the
// classification only chooses the fastest correct way.
enum fl_where fl_route(int dirfd, const char *path);

// fl_route2 classifies a two-path call (rename, link): the kernel only
// when both paths are outside, the channel only when both are under.
enum fl_where fl_route2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

// fl_ret turns a kernel result into libc's convention: -1 with errno set.
static inline long fl_ret(long r)
{
	if (r < 0 && r >= -4095) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

// FL_SYSCALL makes the syscall nr(a..f) the way w says, asking the
// channel with chan (an expression, FL_PASS when the channel has no such
// call) first under the mount, and returns the kernel convention's result.
#define FL_SYSCALL(w, chan, nr, a, b, c, d, e, f)                                                  \
	({                                                                                         \
		enum fl_where w_ = (w);                                                            \
		long r_ = FL_PASS;                                                                 \
		if (w_ == FL_KERNEL)                                                               \
			r_ = fl_tramp((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
				      (long)(f));                                                  \
		else {                                                                             \
			if (w_ == FL_CHANNEL)                                                      \
				r_ = (chan);                                                       \
			if (r_ == FL_PASS)                                                         \
				r_ = fl_raw((nr), (long)(a), (long)(b), (long)(c), (long)(d),      \
					    (long)(e), (long)(f));                                 \
		}                                                                                  \
		r_;                                                                                \
	})

// fl_next returns libc's definition of name (dlsym RTLD_NEXT), cached in
// *slot; the library calls it for what it leaves to libc whole (stdio,
// directory streams, flag combinations only libc emulates).
void *fl_next(void **slot, const char *name);
#define FL_NEXT(type, name)                                                                        \
	({                                                                                         \
		static void *slot_;                                                                \
		(type) fl_next(&slot_, #name);                                                     \
	})
