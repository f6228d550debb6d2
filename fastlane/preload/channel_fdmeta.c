/* channel_fdmeta.c: the descriptor calls on files the channel opened
 * (channel.h: fl_fchmod ...). Such a descriptor is the backing file,
 * opened by the library at an ordinary number that the seccomp filter does
 * not notify: made natively, these calls would change or read the backing
 * file, which neither door looks at. They go to the daemon with the File's
 * id instead (fastlane/serve_fdmeta.go). Buffers stay in the caller's
 * memory, where the daemon reads and writes them as the seccomp lane does,
 * so that a bad pointer is the kernel's EFAULT, not a fault here. */
#define _GNU_SOURCE
#include "channel_int.h"

#include <sys/statfs.h>

/* fd_start returns the slot of a request op on fd's File, NULL to pass
 * (not a descriptor the channel opened in this process, or no slot). */
static char *fd_start(int op, int fd)
{
	if (!flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return NULL;
	/* The slot first: its claim (one gettid) proves the process, which
	 * the descriptor's entry must be of (flc_fd_id_claimed). */
	char *s = flc_begin();
	if (!s)
		return NULL;
	uint64_t id = flc_fd_id_claimed(fd);
	if (!id) {
		flc_end();
		return NULL;
	}
	st(s, SLOT_OP, (uint32_t)op);
	__atomic_store_n((uint64_t *)(s + SLOT_LEN), id, __ATOMIC_SEQ_CST);
	return s;
}

static void put_u64(char *s, int off, uint64_t v)
{
	__atomic_store_n((uint64_t *)(s + off), v, __ATOMIC_SEQ_CST);
}

/* call posts the request and returns its result. */
static long call(char *s)
{
	long r = flc_call(s);
	flc_finish(s);
	return r;
}

long fl_fchmod(int fd, mode_t mode)
{
	char *s = fd_start(OP_FCHMOD, fd);
	if (!s)
		return FL_PASS;
	st(s, SLOT_MODE, (uint32_t)mode);
	return call(s);
}

long fl_fchown(int fd, uid_t uid, gid_t gid)
{
	char *s = fd_start(OP_FCHOWN, fd);
	if (!s)
		return FL_PASS;
	st(s, SLOT_MODE, (uint32_t)uid);
	st(s, SLOT_MASK, (uint32_t)gid);
	return call(s);
}

long fl_fstatx(int fd, int flags, unsigned int mask, struct statx *stx)
{
	if (!stx)
		return FL_PASS;
	char *s = fd_start(OP_FSTATX, fd);
	if (!s)
		return FL_PASS;
	return flc_statx_call(s, flags, mask, stx);
}

long fl_fstatfs(int fd, struct statfs *buf)
{
	if (!buf)
		return FL_PASS;
	char *s = fd_start(OP_FSTATFS, fd);
	if (!s)
		return FL_PASS;
	long r = flc_call(s);
	if (r == 0 && !flc_out(s, buf, sizeof *buf))
		r = FL_PASS;
	flc_finish(s);
	return r;
}

long fl_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	char *s = fd_start(OP_FGETXATTR, fd);
	if (!s)
		return FL_PASS;
	put_u64(s, SLOT_ARG0, (uint64_t)(uintptr_t)name);
	put_u64(s, SLOT_ARG1, (uint64_t)(uintptr_t)value);
	put_u64(s, SLOT_ARG2, (uint64_t)size);
	return call(s);
}

long fl_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	char *s = fd_start(OP_FSETXATTR, fd);
	if (!s)
		return FL_PASS;
	put_u64(s, SLOT_ARG0, (uint64_t)(uintptr_t)name);
	put_u64(s, SLOT_ARG1, (uint64_t)(uintptr_t)value);
	put_u64(s, SLOT_ARG2, (uint64_t)size);
	st(s, SLOT_FLAGS, (uint32_t)flags);
	return call(s);
}

long fl_flistxattr(int fd, char *list, size_t size)
{
	char *s = fd_start(OP_FLISTXATTR, fd);
	if (!s)
		return FL_PASS;
	put_u64(s, SLOT_ARG1, (uint64_t)(uintptr_t)list);
	put_u64(s, SLOT_ARG2, (uint64_t)size);
	return call(s);
}

long fl_fremovexattr(int fd, const char *name)
{
	char *s = fd_start(OP_FREMOVEXATTR, fd);
	if (!s)
		return FL_PASS;
	put_u64(s, SLOT_ARG0, (uint64_t)(uintptr_t)name);
	return call(s);
}
