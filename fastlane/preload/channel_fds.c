/* channel_fds.c: the channel's table of the descriptors it opened
 * (channel_int.h, struct fl_fd) across the calls that copy or close
 * descriptors behind close(2): dup, dup2, dup3, fcntl F_DUPFD and
 * close_range. A duplicate is the same open file description, so it
 * answers fstat like the original while it still is that file, and the
 * daemon releases the File only when the last descriptor on it is closed,
 * as the kernel releases the description (fs/file.c: fput on the last
 * reference). */
#define _GNU_SOURCE
#include "channel_int.h"

int flc_fd_hi = -1;

void flc_fd_seen(int fd)
{
	int hi = __atomic_load_n(&flc_fd_hi, __ATOMIC_RELAXED);
	while (fd > hi && !__atomic_compare_exchange_n(&flc_fd_hi, &hi, fd, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
	}
}

int flc_fd_held(int fd, uint64_t id)
{
	for (int i = 0; i <= flc_fd_hi && i < FL_MAX_FDS; i++)
		if (i != fd && flc_fds[i].id == id && flc_fd_id(i) == id)
			return 1;
	return 0;
}

void fl_closed(int fd)
{
	if (!flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return;
	struct fl_fd e = flc_fds[fd];
	/* A fork child's entries name its parent's Files, and a vfork child
	 * runs on its parent's table: neither changes it. */
	if (e.pid != (pid_t)syscall(SYS_getpid))
		return;
	flc_fds[fd].id = 0;
	if (e.shared && flc_fd_held(fd, e.id))
		return;
	flc_release_id(e.id, e.vino);
}

void fl_dup(int oldfd, int newfd)
{
	if (!flc_fds || oldfd == newfd || newfd < 0 || newfd >= FL_MAX_FDS)
		return;
	int saved = errno;
	/* What newfd was is closed now (dup2 and dup3 close it first). */
	fl_closed(newfd);
	uint64_t id = oldfd >= 0 && oldfd < FL_MAX_FDS ? flc_fd_id(oldfd) : 0;
	if (id) {
		flc_fds[newfd] = flc_fds[oldfd];
		flc_fds[oldfd].shared = flc_fds[newfd].shared = 1;
		flc_fd_seen(newfd);
	}
	errno = saved;
}

void fl_closed_range(unsigned int first, unsigned int last)
{
	if (!flc_fds)
		return;
	int saved = errno;
	for (long fd = first; fd <= (long)last && fd <= flc_fd_hi && fd < FL_MAX_FDS; fd++)
		if (flc_fds[fd].id)
			fl_closed((int)fd);
	errno = saved;
}

int fl_backing_dev(dev_t *dev)
{
	*dev = flc_backdir_dev;
	return flc_backdir_dev != 0;
}

int fl_channel_opens(void)
{
	return flc_fds && flc_backdir >= 0;
}
