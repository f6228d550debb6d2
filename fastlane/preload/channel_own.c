/* channel_own.c: the channel's own descriptors (the connection, the
 * doorbell socket, the backing directory) against the program's calls
 * that replace or close descriptor numbers: they move out of the way, so
 * the program gets what the kernel gives a process without the library. */
#define _GNU_SOURCE
#include <limits.h>

#include "channel_int.h"

/* move_mine moves the channel's own descriptors (the connection, the
 * doorbell, the backing directory) out of [lo, hi], above hi, before the
 * program replaces or closes those numbers (dup2, dup3, close,
 * close_range, closefrom): they were never the program's, and a doorbell
 * byte must never reach a descriptor of the program's that took the
 * number. The old number is closed here, so the program's own call then
 * gets what the kernel gives a process without the library (EBADF for a
 * close of it, a free number for a dup2 onto it). Those that cannot move
 * above hi (a range to the top of the table) stay where they are and are
 * listed in kept, lowest first; it returns how many. Only the handshaked
 * process acts: a vfork child runs on its parent's memory, and a fork
 * child has none yet. */
static int move_mine(unsigned int lo, unsigned int hi, int kept[3])
{
	int *mine[] = {&fl_ctl, &fl_bell, &flc_backdir};
	int hit = 0, n = 0;
	for (unsigned i = 0; i < sizeof mine / sizeof *mine; i++) {
		int fd = __atomic_load_n(mine[i], __ATOMIC_SEQ_CST);
		hit |= fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi;
	}
	if (!hit || flc_pid <= 0 || (pid_t)syscall(SYS_getpid) != flc_pid)
		return 0;
	int saved = errno;
	for (unsigned i = 0; i < sizeof mine / sizeof *mine; i++) {
		int fd = __atomic_load_n(mine[i], __ATOMIC_SEQ_CST);
		if (fd < 0 || (unsigned)fd < lo || (unsigned)fd > hi)
			continue;
		long m = hi < INT_MAX - 1 ? syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, (long)hi + 1) : -1;
		if (m < 0) {
			int j = n++;
			for (; j > 0 && kept[j - 1] > fd; j--)
				kept[j] = kept[j - 1];
			kept[j] = fd;
			continue;
		}
		__atomic_store_n(mine[i], (int)m, __ATOMIC_SEQ_CST);
		syscall(SYS_close, fd);
	}
	errno = saved;
	return n;
}

/* fl_fds_spare: move_mine for a call that replaces or closes exactly
 * [lo, hi]. Where a descriptor cannot move, the channel is given up for
 * good and the number closed. */
void fl_fds_spare(unsigned int lo, unsigned int hi)
{
	int kept[3];
	int n = move_mine(lo, hi, kept);
	if (n == 0)
		return;
	int saved = errno;
	flc_turn_off();
	int *mine[] = {&fl_ctl, &fl_bell, &flc_backdir};
	for (unsigned i = 0; i < sizeof mine / sizeof *mine; i++)
		for (int j = 0; j < n; j++)
			if (__atomic_load_n(mine[i], __ATOMIC_SEQ_CST) == kept[j]) {
				__atomic_store_n(mine[i], -1, __ATOMIC_SEQ_CST);
				syscall(SYS_close, kept[j]);
			}
	errno = saved;
}

/* fl_fds_keep: move_mine for close_range and closefrom, which close
 * around the kept descriptors (path_fds.c). A program that closes
 * everything above stderr, as daemons and spawners do, so keeps its
 * channel. */
int fl_fds_keep(unsigned int lo, unsigned int hi, int kept[3])
{
	return move_mine(lo, hi, kept);
}
