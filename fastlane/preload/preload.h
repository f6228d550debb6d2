// Internal declarations of the preload library (libbtfuse-fast.so): the
// entry side's state, its two ways into the kernel and the routing of a
// path call. See preload.c for the design.
#pragma once

#include <errno.h>
#include <stddef.h>

#include "channel.h"
#include "view.h"

// FL_EXPORT marks the libc functions the library interposes; everything
// else is hidden (-fvisibility=hidden), so the library adds no other
// symbol to the program's namespace.
#define FL_EXPORT __attribute__((visibility("default")))

// A syscall with six arguments, returning the kernel's result (>= 0 or
// -errno), made by the same few instructions in two places:
//   fl_raw: in the library's own text. The filter notifies path syscalls
//     from there like any other: the ordinary way, served by the seccomp lane.
//   fl_tramp: the copy in the trampoline page, whose path syscalls the
//     filter allows; the page is made at the first call through fl_tramp
//     (preload.c, tramp_first), and fl_raw stands in when it cannot be.
typedef long (*fl_syscall_fn)(long nr, long a, long b, long c, long d, long e, long f);
long fl_raw(long nr, long a, long b, long c, long d, long e, long f);
extern fl_syscall_fn fl_tramp;

// fl_fd_elsewhere: 1 when fd is surely no backing file nor served
// descriptor, so that a descriptor call on it may go to the kernel from
// the trampoline (preload.c).
int fl_fd_elsewhere(int fd);

// Where a path call goes.
enum fl_where {
	FL_KERNEL,  // lexically outside the mount: the trampoline, straight to the kernel
	FL_CHANNEL, // under the mount: the channel first, then the ordinary syscall
	FL_PLAIN,   // not known: the ordinary syscall
	FL_MOUNTFD, // relative to a directory descriptor on the mount: as
		    // FL_CHANNEL (the daemon resolves the descriptor), but see
		    // FL_ATTRCALL
};

// fl_route classifies (dirfd, path) as a path syscall would resolve it.
// It never fails: what it cannot decide is FL_PLAIN, which is always
// correct, and so is FL_KERNEL for any path (the kernel sends paths in the
// mount through the FUSE mount of the same filesystem): the
// classification only chooses the fastest correct way.
enum fl_where fl_route(int dirfd, const char *path);


// fl_route_at is fl_route keeping in *pl what the view can reuse
// (struct fl_place, view.h).
enum fl_where fl_route_at(int dirfd, const char *path, struct fl_place *pl);

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
//
// The ways, per call class (numbers: the commit messages of this file):
//   - outside the mount: the trampoline (the kernel, no notification).
//   - under the mount, a call the channel has: the channel. Its answer
//     FL_KERNEL_PASS (the daemon's fsimpl said only the kernel knows:
//     "..", directories, devices, O_PATH) goes to the trampoline: the
//     seccomp lane would CONTINUE it to the same FUSE mount, a
//     notification later. FL_PASS (not handshaked, a live fault rule, no
//     backing directory) goes to the ordinary syscall, which the seccomp
//     lane serves: for opens that is a backing descriptor, native data.
//   - a call the channel has not, or FL_PLAIN: the ordinary syscall. The
//     seccomp lane answers it from the daemon's memory; through the FUSE
//     mount the uncached ones (chmod, chown, truncate, utimensat, xattrs,
//     statfs, readlink, link, symlink, mknod) cost a FUSE round trip,
//     measured 1.3-2.5x the notification.
#define FL_SYSCALL(w, chan, nr, a, b, c, d, e, f)                                                  \
	({                                                                                         \
		enum fl_where w_ = (w);                                                            \
		long r_ = FL_PASS;                                                                 \
		if (w_ == FL_CHANNEL || w_ == FL_MOUNTFD) {                                        \
			r_ = (chan);                                                               \
			if (r_ == FL_KERNEL_PASS)                                                  \
				w_ = FL_KERNEL;                                                    \
		}                                                                                  \
		if (w_ == FL_KERNEL)                                                               \
			r_ = fl_tramp((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
				      (long)(f));                                                  \
		else if (r_ == FL_PASS)                                                            \
			r_ = fl_raw((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e),   \
				    (long)(f));                                                    \
		r_;                                                                                \
	})

// FL_ATTRCALL is FL_SYSCALL for the calls that only read attributes (the
// stat family, access; not readlink, xattrs or statfs, which the kernel
// does not cache and which cost a FUSE round trip): relative to a directory
// descriptor on the mount they go to the kernel through the trampoline,
// whose answer is the FUSE mount's own (the kernel caches entries and
// attributes, and fsimpl's change feed invalidates them before a change
// returns; a file open for writing elsewhere is never cached), where the
// channel would cost a round trip plus /proc/TID/fd/N and the seccomp lane
// a notification as well.
#define FL_ATTRCALL(w, chan, nr, a, b, c, d, e, f)                                                 \
	({                                                                                         \
		enum fl_where wa_ = (w);                                                           \
		FL_SYSCALL(wa_ == FL_MOUNTFD && fl_kernel_ok() ? FL_KERNEL : wa_, chan, nr, a, b, c, d, e, f); \
	})

// FL_KERNEL_UNLESS_PLAIN is the way for a call the seccomp lane always
// CONTINUEs (chdir, utimes...): the kernel, unless the library cannot
// place it (FL_PLAIN, whose ordinary syscall the seccomp lane CONTINUEs),
// or, under the mount, unless a fault rule is live (fl_kernel_ok: the
// seccomp lane matches the call against the rules before it CONTINUEs it).
#define FL_KERNEL_UNLESS_PLAIN(w)                                                                  \
	((w) == FL_PLAIN || (w) == FL_KERNEL ? (w) : fl_kernel_ok() ? FL_KERNEL : FL_PLAIN)

// fl_next returns libc's definition of name (dlsym RTLD_NEXT), cached in
// *slot; the library calls it for what it leaves to libc whole (stdio,
// directory streams, flag combinations only libc emulates).
void *fl_next(void **slot, const char *name);
#define FL_NEXT(type, name)                                                                        \
	({                                                                                         \
		static void *slot_;                                                                \
		(type) fl_next(&slot_, #name);                                                     \
	})
