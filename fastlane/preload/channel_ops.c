/* channel_ops.c: the calls of the fast lane's channel (channel.h): each
 * fills its thread's slot with a request, waits for the daemon's answer
 * (channel.c) and copies it out. */
#define _GNU_SOURCE
#include "channel_int.h"
#include "view.h"

long fl_newfstatat(int dirfd, const char *path, struct stat *stp, int flags)
{
	if (!stp)
		return FL_PASS;
	char *s = flc_start_path(OP_NEWFSTATAT, dirfd, path);
	if (!s)
		return FL_PASS;
	st(s, SLOT_FLAGS, (uint32_t)flags);
	long r = flc_call(s);
	if (r == 0 && !flc_out(s, stp, sizeof *stp))
		r = FL_PASS;
	flc_finish(s);
	return r;
}

long fl_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	if (!stx)
		return FL_PASS;
	char *s = flc_start_path(OP_STATX, dirfd, path);
	if (!s)
		return FL_PASS;
	return flc_statx_call(s, flags, mask, stx);
}

long flc_statx_call(char *s, int flags, unsigned int mask, struct statx *stx)
{
	st(s, SLOT_FLAGS, (uint32_t)flags);
	st(s, SLOT_MASK, mask);
	long r = flc_call(s);
	if (r == 0 && !flc_out(s, stx, 256)) /* sizeof(struct statx) */
		r = FL_PASS;
	flc_finish(s);
	return r;
}

long fl_faccessat2(int dirfd, const char *path, int mode, int flags)
{
	char *s = flc_start_path(OP_FACCESSAT2, dirfd, path);
	if (!s)
		return FL_PASS;
	st(s, SLOT_MODE, (uint32_t)mode);
	st(s, SLOT_FLAGS, (uint32_t)flags);
	long r = flc_call(s);
	flc_finish(s);
	return r;
}

long fl_readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	if (!buf)
		return FL_PASS;
	char *s = flc_start_path(OP_READLINKAT, dirfd, path);
	if (!s)
		return FL_PASS;
	__atomic_store_n((uint64_t *)(s + SLOT_LEN), (uint64_t)len, __ATOMIC_SEQ_CST);
	long r = flc_call(s);
	if (r > 0) {
		uint32_t n = ld(s, SLOT_OUTLEN);
		if ((long)n != r || n > len || n > FL_OUT_BYTES)
			r = FL_PASS;
		else
			memcpy(buf, s + SLOT_OUT, n);
	}
	flc_finish(s);
	return r;
}

/* backdir_ok reports whether flc_backdir is still the directory the daemon
 * sent. */
static int backdir_ok(void)
{
	struct stat sb;
	return flc_backdir >= 0 && syscall(SYS_fstat, flc_backdir, &sb) == 0 && sb.st_dev == flc_backdir_dev &&
	       sb.st_ino == flc_backdir_ino;
}

/* release tells the daemon, on slot s, that the File id is closed. */
static void release(char *s, uint64_t id)
{
	st(s, SLOT_OP, OP_RELEASE);
	__atomic_store_n((uint64_t *)(s + SLOT_LEN), id, __ATOMIC_SEQ_CST);
	flc_call(s);
}

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

long fl_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return fl_openat_at(dirfd, path, flags, mode, NULL);
}

long fl_openat_at(int dirfd, const char *path, int flags, mode_t mode, const struct fl_place *pl)
{
	/* O_PATH and O_TMPFILE open what only the kernel can; the daemon
	 * passes directories and devices. */
	if (flags & (O_PATH | (O_TMPFILE & ~O_DIRECTORY)))
		return FL_PASS;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
		flc_hurry();
	long v = fl_view_openat(dirfd, path, flags, pl);
	if (v != FL_PASS)
		return v;
	char *s = flc_start_path(OP_OPENAT, dirfd, path);
	if (!s)
		return FL_PASS;
	if (!backdir_ok()) {
		flc_end();
		return FL_PASS;
	}
	/* The kernel takes the descriptor before it creates or truncates
	 * anything (fs/open.c:do_sys_openat2(): get_unused_fd_flags() before
	 * do_filp_open()): a full table is EMFILE with nothing changed. Hold
	 * the number the open will have until the backing file takes it. */
	long hold = -1;
	if (flags & (O_CREAT | O_TRUNC)) {
		hold = syscall(SYS_fcntl, flc_backdir, F_DUPFD_CLOEXEC, 0);
		if (hold < 0) {
			long e = -errno;
			flc_end();
			return e == -EMFILE ? e : FL_PASS;
		}
	}
	st(s, SLOT_FLAGS, (uint32_t)flags);
	st(s, SLOT_MODE, (uint32_t)mode);
	long r = flc_call(s);
	if (r > 0) {
		uint64_t id = (uint64_t)r;
		char name[32];
		uint32_t n = ld(s, SLOT_OUTLEN);
		if (n == 0 || n >= sizeof name) {
			release(s, id);
			if (hold >= 0)
				syscall(SYS_close, hold);
			flc_finish(s);
			return -EIO; /* the daemon said yes and named no file: cannot happen */
		}
		memcpy(name, s + SLOT_OUT, n);
		name[n] = 0;
		/* The flags that reach a backing file (fsimpl's
		 * backingOpenFlags), and the descriptor's own. */
		long bfl = (flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_CLOEXEC)) | O_NOFOLLOW | O_LARGEFILE;
		if (&fl_tramp && fl_tramp) {
			r = fl_tramp(SYS_openat, flc_backdir, (long)name, bfl, 0, 0, 0);
		} else {
			r = syscall(SYS_openat, flc_backdir, name, bfl);
			if (r < 0)
				r = -errno;
		}
		if (r >= 0 && hold >= 0) {
			if (syscall(SYS_dup3, r, hold, flags & O_CLOEXEC) == hold) {
				syscall(SYS_close, r);
				r = hold;
			} else {
				syscall(SYS_close, hold);
			}
			hold = -1;
		}
		/* The descriptor's identity, for flc_fd_id: the backing
		 * directory's device (checked just before the open) and the
		 * inode number the daemon gave, else the file's own. */
		uint64_t ino = __atomic_load_n((uint64_t *)(s + SLOT_OUTINO), __ATOMIC_SEQ_CST);
		struct stat sb;
		if (r < 0) {
			release(s, id);
		} else if (r < FL_MAX_FDS && (ino != 0 || syscall(SYS_fstat, r, &sb) == 0)) {
			flc_fds[r].vino = strtoull(name, NULL, 16);
			flc_fds[r].id = id;
			flc_fds[r].pid = flc_pid;
			flc_fds[r].dev = ino != 0 ? flc_backdir_dev : sb.st_dev;
			flc_fds[r].ino = ino != 0 ? (ino_t)ino : sb.st_ino;
			flc_fds[r].shared = 0;
			flc_fd_seen((int)r);
		}
	}
	if (hold >= 0)
		syscall(SYS_close, hold);
	flc_finish(s);
	return r;
}

/* path_word makes a call about one path whose only other argument is one
 * word of the slot at field: mkdir's mode, unlink's flags. */
static long path_word(int op, int dirfd, const char *path, int field, uint32_t v)
{
	char *s = flc_start_path(op, dirfd, path);
	if (!s)
		return FL_PASS;
	st(s, field, v);
	long r = flc_call(s);
	flc_finish(s);
	return r;
}

long fl_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return path_word(OP_MKDIRAT, dirfd, path, SLOT_MODE, (uint32_t)mode);
}

long fl_unlinkat(int dirfd, const char *path, int flags)
{
	return path_word(OP_UNLINKAT, dirfd, path, SLOT_FLAGS, (uint32_t)flags);
}

/* two_paths begins a call about two paths (rename, link), or returns NULL
 * to pass. */
static char *two_paths(int op, int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	if (!newpath || !newpath[0])
		return NULL;
	char *s = flc_start_path(op, olddirfd, oldpath);
	if (!s)
		return NULL;
	if (!flc_put_path(s, SLOT_PATH2, newdirfd, newpath)) {
		flc_end();
		return NULL;
	}
	st(s, SLOT_DIRFD2, (uint32_t)newdirfd);
	return s;
}

long fl_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
	char *s = two_paths(OP_RENAMEAT2, olddirfd, oldpath, newdirfd, newpath);
	if (!s)
		return FL_PASS;
	st(s, SLOT_FLAGS, flags);
	long r = flc_call(s);
	flc_finish(s);
	return r;
}

long fl_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	char *s = two_paths(OP_LINKAT, olddirfd, oldpath, newdirfd, newpath);
	if (!s)
		return FL_PASS;
	st(s, SLOT_FLAGS, (uint32_t)flags);
	long r = flc_call(s);
	flc_finish(s);
	return r;
}

static pid_t getpid_keep_errno(void)
{
	int saved = errno;
	pid_t p = (pid_t)syscall(SYS_getpid);
	errno = saved;
	return p;
}

/* fd_id is flc_fd_id_stat; mine: the caller is known to be of the process
 * the channel serves (its slot's claim said so), else getpid asks. */
static uint64_t fd_id(int fd, struct stat *sb, int mine)
{
	if (!flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return 0;
	struct fl_fd *e = &flc_fds[fd];
	int saved = errno;
	uint64_t id = e->id;
	pid_t self = mine ? flc_pid : (pid_t)syscall(SYS_getpid);
	if (e->pid != self || syscall(SYS_fstat, fd, sb) != 0 || sb->st_dev != e->dev || sb->st_ino != e->ino)
		id = 0;
	errno = saved;
	return id;
}

uint64_t flc_fd_id_stat(int fd, struct stat *sb)
{
	return fd_id(fd, sb, 0);
}

uint64_t flc_fd_id_claimed(int fd)
{
	struct stat sb;
	return fd_id(fd, &sb, 1);
}

uint64_t flc_fd_id_claimed_stat(int fd, struct stat *sb)
{
	return fd_id(fd, sb, 1);
}

uint64_t flc_fd_id(int fd)
{
	struct stat sb;
	return flc_fd_id_stat(fd, &sb);
}

/* own_fd: a descriptor the channel opened is the backing file itself,
 * which the seccomp lane leaves to the kernel (it serves only descriptors
 * it installed): the caller may make its fd calls from the trampoline. */
int fl_own_fd(int fd)
{
	if (!flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return 0;
	return flc_fd_id(fd) != 0;
}

long fl_fstat(int fd, struct stat *stp)
{
	if (!stp || !flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return FL_PASS;
	/* A thread that holds a slot takes it first: its claim (one gettid)
	 * proves the process, and the channel needs the slot when the view
	 * cannot answer (a file open for writing); any other caller asks
	 * getpid, and claims a slot only for the channel. */
	char *s = flc_has_slot() ? flc_begin() : NULL;
	struct stat sb;
	uint64_t id = s ? flc_fd_id_claimed_stat(fd, &sb) : flc_fd_id_stat(fd, &sb);
	long v = FL_PASS;
	/* The descriptor is the backing file (checked just now): the view
	 * completes its attributes from that file's own. */
	if (id)
		v = fl_view_fstat(flc_fds[fd].vino, &sb, stp);
	if (!id || v != FL_PASS) {
		if (s)
			flc_end();
		return id ? v : FL_PASS;
	}
	if (!s)
		s = flc_begin();
	if (!s)
		return FL_PASS;
	st(s, SLOT_OP, OP_FSTAT);
	__atomic_store_n((uint64_t *)(s + SLOT_LEN), id, __ATOMIC_SEQ_CST);
	long r = flc_call(s);
	if (r == 0 && !flc_out(s, stp, sizeof *stp))
		r = FL_PASS;
	flc_finish(s);
	return r;
}

long fl_close(int fd)
{
	if (!flc_fds || fd < 0 || fd >= FL_MAX_FDS || flc_fds[fd].id == 0)
		return FL_PASS;
	/* Only the process that opened fd forgets it: a vfork child shares
	 * the table with its parent but closes its own copy of fd (nor need
	 * it: a fork child's entries are its parent's Files). A thread that
	 * holds a slot takes it first, for the release: its claim (one
	 * gettid) proves the process; any other caller asks getpid (and
	 * claims a slot only when the release needs one). */
	char *s = flc_has_slot() ? flc_begin() : NULL;
	if (flc_fds[fd].pid != (s ? flc_pid : getpid_keep_errno())) {
		if (s)
			flc_end();
		return FL_PASS;
	}
	/* No identity check: whether fd still is the backing file or was
	 * replaced behind the library's back (dup2 onto it, a raw close and
	 * a reuse of the number), the descriptor the File was opened for is
	 * gone after this close, so the File is released either way. */
	uint64_t id = flc_fds[fd].id;
	flc_fds[fd].id = 0;
	/* Like an open file description, the File lives while a duplicate
	 * of the descriptor does. */
	if (flc_fds[fd].shared && flc_fd_held(fd, id)) {
		if (s)
			flc_end();
		return 0;
	}
	flc_release_on(s, id, flc_fds[fd].vino);
	return 0;
}

void flc_release_id(uint64_t id, uint64_t vino)
{
	flc_release_on(NULL, id, vino);
}

void flc_release_on(char *s, uint64_t id, uint64_t vino)
{
	/* An unlinked inode is freed by the kernel with its last close: the
	 * daemon hears of such a release at once (its backing file and its
	 * inode are given back, as statfs shows), any other with the
	 * thread's next request. The daemon marks a pin that kept an inode;
	 * a File's inode the view shows unlinked. */
	int now = 0;
	if (id & FL_PIN_ID) {
		id = flc_unpin((uint32_t)(id & ~FL_PIN_ID));
		now = 1;
	} else {
		now = flv_unlinked(vino);
	}
	if (!id) {
		if (s)
			flc_end();
		return;
	}
	if (!s)
		s = flc_begin();
	if (!s)
		return; /* the daemon keeps the File until the process is gone */
	if (now) {
		release(s, id);
		flc_finish(s);
		return;
	}
	/* Queue the release for the slot's next request: a close costs no
	 * round trip unless the queue is full. */
	uint32_t n = ld(s, SLOT_NREL);
	if (n < FL_MAX_REL) {
		__atomic_store_n((uint64_t *)(s + SLOT_REL + 8 * n), id, __ATOMIC_SEQ_CST);
		st(s, SLOT_NREL, n + 1);
		flc_end();
		return;
	}
	release(s, id);
	flc_finish(s);
}
