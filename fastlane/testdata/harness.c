/* harness.c: calls channel.c's fl_* functions directly, next to the raw
 * syscalls, for the fast lane's tests (fastlane/channel_test.go). Linked
 * with channel*.c and view*.c; no preload library involved.
 *
 *   harness OUT [-C DIR] [-d DIR] [-u UID] diff PATH...   for each PATH and op variant, one
 *       line "op variant path<TAB>channel<TAB>syscall<TAB>view" into OUT (the
 *       metadata view's answer, view.c, asked first as the library does);
 *       with -d, relative PATHs also from a descriptor of DIR; the view
 *       is asked again with what the library's route would have learned
 *       placing the call (struct fl_place: "-placed" variants)
 *   harness OUT bench N MODE PATH        N calls of MODE (chan-stat,
 *       sys-stat, chan-access, sys-access, chan-readlink, sys-readlink),
 *       "ns/op" into OUT
 *   harness OUT ops DIR                  a script of opens, reads, writes,
 *       fstat, close, mkdir, rename and unlink under DIR, each through the
 *       channel and, when it passes, the raw syscall (as the library does);
 *       "op<TAB>result<TAB>chan|sys" into OUT
 *   harness OUT count N PATH             N stats of PATH through the channel
 *   harness OUT rcount|wcount N PATH     an open of PATH (read-only, for
 *       writing) through the channel, then N stats
 *   harness OUT fork PATH                the channel in a fork child, a vfork
 *       child and a second thread; results into OUT
 *   harness OUT rings N PATH [sig]       N mkdir+rmdir of PATH through the channel
 *       (with sig, under a 20 us interval timer whose handler has no
 *       SA_RESTART), "failed=F eintr=E rings=R handled=H" into OUT: the
 *       calls that failed, those of them that failed with EINTR, the
 *       requests the doorbell served, whether the handler ran */
#define _GNU_SOURCE
#include "../preload/channel.h"
#include "../preload/view.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static FILE *out;

/* IS_PASS: the channel did not answer (FL_KERNEL_PASS: the library would
 * then ask the kernel through its trampoline, here the plain syscall). */
#define IS_PASS(r) ((r) == FL_PASS || (r) == FL_KERNEL_PASS)

static void put_stat(char *b, size_t n, long r, const struct stat *s)
{
	if (IS_PASS(r))
		snprintf(b, n, "pass");
	else if (r != 0)
		snprintf(b, n, "r=%ld", r);
	else
		snprintf(b, n, "r=0 dev=%lx ino=%lu mode=%o nlink=%lu uid=%u gid=%u rdev=%lx size=%ld blocks=%ld blksize=%ld mtime=%ld.%09ld ctime=%ld.%09ld",
			 (unsigned long)s->st_dev, (unsigned long)s->st_ino, s->st_mode, (unsigned long)s->st_nlink, s->st_uid, s->st_gid,
			 (unsigned long)s->st_rdev, (long)s->st_size, (long)s->st_blocks, (long)s->st_blksize, (long)s->st_mtim.tv_sec,
			 s->st_mtim.tv_nsec, (long)s->st_ctim.tv_sec, s->st_ctim.tv_nsec);
}

static void put_statx(char *b, size_t n, long r, const struct statx *s)
{
	if (IS_PASS(r))
		snprintf(b, n, "pass");
	else if (r != 0)
		snprintf(b, n, "r=%ld", r);
	else
		snprintf(b, n, "r=0 mask=%x dev=%u:%u ino=%llu mode=%o nlink=%u uid=%u gid=%u size=%llu blocks=%llu mtime=%lld.%09u mnt=%llu",
			 s->stx_mask & (STATX_BASIC_STATS | STATX_MNT_ID), s->stx_dev_major, s->stx_dev_minor, (unsigned long long)s->stx_ino,
			 s->stx_mode, s->stx_nlink, s->stx_uid, s->stx_gid, (unsigned long long)s->stx_size,
			 (unsigned long long)s->stx_blocks, (long long)s->stx_mtime.tv_sec, s->stx_mtime.tv_nsec,
			 (unsigned long long)s->stx_mnt_id);
}

static long sysret(long r) { return r < 0 ? -errno : r; }

/* diff_dirfd: -d DIR's descriptor; relative paths are then also stat'ed
 * relative to it ("newfstatat-at" lines). */
static int diff_dirfd = -1;

/* place fills *pl as the library's route (preload.c, fl_route_at) does
 * for a call it sends to the channel: the inode of a directory descriptor
 * (statx), or the working directory for a relative path no ".." of which
 * reaches into it (here: none at all). */
static const struct fl_place *place(int dirfd, const char *p, struct fl_place *pl, char *buf)
{
	pl->buf = buf;
	pl->cwd_len = 0;
	pl->dir_ino = pl->dir_dev = 0;
	if (dirfd != AT_FDCWD) {
		struct statx x;
		if (syscall(SYS_statx, dirfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &x) == 0 &&
		    S_ISDIR(x.stx_mode)) {
			pl->dir_ino = x.stx_ino;
			pl->dir_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
		}
	} else if (p[0] != '/' && !strstr(p, "..") && syscall(SYS_getcwd, buf + FL_PLACE_PATH, 4096) > 0) {
		pl->cwd_len = strlen(buf + FL_PLACE_PATH);
	}
	return pl;
}

/* diff_placed: the view's fstatat and statx of (dirfd, p) given what the
 * route learned, against the kernel's (byte for byte). */
static void diff_placed(int dirfd, const char *p)
{
	char b[512], v[512], buf[FL_PLACE_SIZE];
	struct fl_place pl;
	const char *at = dirfd == AT_FDCWD ? "cwd" : "at";
	static const int sflags[] = {0, AT_SYMLINK_NOFOLLOW};
	for (unsigned i = 0; i < sizeof sflags / sizeof *sflags; i++) {
		struct stat s0, s2;
		memset(&s0, 0xa5, sizeof s0), memset(&s2, 0, sizeof s2);
		long r0 = fl_view_fstatat(dirfd, p, &s0, sflags[i], place(dirfd, p, &pl, buf));
		long r2 = sysret(syscall(SYS_newfstatat, dirfd, p, &s2, sflags[i]));
		put_stat(b, sizeof b, r2, &s2), put_stat(v, sizeof v, r0, &s0);
		if (r0 == 0 && r2 == 0 && memcmp(&s0, &s2, sizeof s0) != 0)
			snprintf(v, sizeof v, "bytes differ from the kernel's");
		fprintf(out, "newfstatat-%s-placed %x %s\tpass\t%s\t%s\n", at, sflags[i], p, b, v);
	}
	struct statx x0, x2;
	memset(&x0, 0xa5, sizeof x0), memset(&x2, 0, sizeof x2);
	long r0 = fl_view_statx(dirfd, p, 0, STATX_BASIC_STATS, &x0, place(dirfd, p, &pl, buf));
	long r2 = sysret(syscall(SYS_statx, dirfd, p, 0, STATX_BASIC_STATS, &x2));
	put_statx(b, sizeof b, r2, &x2), put_statx(v, sizeof v, r0, &x0);
	fprintf(out, "statx-%s-placed 0 %s\tpass\t%s\t%s\n", at, p, b, v);
}

static void diff(const char *p)
{
	char a[512], b[512], v[512];
	static const int sflags[] = {0, AT_SYMLINK_NOFOLLOW, 0x1000 /* bad */};
	for (unsigned i = 0; i < sizeof sflags / sizeof *sflags; i++) {
		struct stat s0, s1, s2;
		memset(&s0, 0xa5, sizeof s0), memset(&s1, 0, sizeof s1), memset(&s2, 0, sizeof s2);
		long r0 = fl_view_fstatat(AT_FDCWD, p, &s0, sflags[i], NULL);
		long r1 = fl_newfstatat(AT_FDCWD, p, &s1, sflags[i]);
		long r2 = sysret(syscall(SYS_newfstatat, AT_FDCWD, p, &s2, sflags[i]));
		put_stat(a, sizeof a, r1, &s1), put_stat(b, sizeof b, r2, &s2), put_stat(v, sizeof v, r0, &s0);
		/* Byte for byte, padding included, what the channel delivered. */
		if (r0 == 0 && r1 == 0 && memcmp(&s0, &s1, sizeof s0) != 0)
			snprintf(v, sizeof v, "bytes differ from the channel's");
		fprintf(out, "newfstatat %x %s\t%s\t%s\t%s\n", sflags[i], p, a, b, v);
	}
	for (unsigned i = 0; diff_dirfd >= 0 && p[0] != '/' && i < sizeof sflags / sizeof *sflags; i++) {
		struct stat s0, s1, s2;
		memset(&s0, 0xa5, sizeof s0), memset(&s1, 0, sizeof s1), memset(&s2, 0, sizeof s2);
		long r0 = fl_view_fstatat(diff_dirfd, p, &s0, sflags[i], NULL);
		long r1 = fl_newfstatat(diff_dirfd, p, &s1, sflags[i]);
		long r2 = sysret(syscall(SYS_newfstatat, diff_dirfd, p, &s2, sflags[i]));
		put_stat(a, sizeof a, r1, &s1), put_stat(b, sizeof b, r2, &s2), put_stat(v, sizeof v, r0, &s0);
		if (r0 == 0 && r2 == 0 && memcmp(&s0, &s2, sizeof s0) != 0)
			snprintf(v, sizeof v, "bytes differ from the kernel's");
		fprintf(out, "newfstatat-at %x %s\t%s\t%s\t%s\n", sflags[i], p, a, b, v);
	}
	if (p[0] != '/')
		diff_placed(AT_FDCWD, p);
	if (diff_dirfd >= 0 && p[0] != '/')
		diff_placed(diff_dirfd, p);
	if (diff_dirfd >= 0 && p[0] != '/') {
		struct statx x0, x2;
		memset(&x0, 0xa5, sizeof x0), memset(&x2, 0, sizeof x2);
		long r0 = fl_view_statx(diff_dirfd, p, 0, STATX_BASIC_STATS, &x0, NULL);
		long r2 = sysret(syscall(SYS_statx, diff_dirfd, p, 0, STATX_BASIC_STATS, &x2));
		put_statx(b, sizeof b, r2, &x2), put_statx(v, sizeof v, r0, &x0);
		fprintf(out, "statx-at 0 %s\tpass\t%s\t%s\n", p, b, v);
		for (int m = 0; m <= R_OK; m += R_OK) {
			r0 = fl_view_faccessat(diff_dirfd, p, m, 0, NULL);
			r2 = sysret(syscall(SYS_faccessat2, diff_dirfd, p, m, 0));
			if (r0 == FL_PASS)
				snprintf(v, sizeof v, "pass");
			else
				snprintf(v, sizeof v, "r=%ld", r0);
			fprintf(out, "faccessat2-at %x %s\tpass\tr=%ld\t%s\n", m, p, r2, v);
		}
		char l0[4096] = "", l2[4096] = "";
		r0 = fl_view_readlinkat(diff_dirfd, p, l0, sizeof l0, NULL);
		r2 = sysret(syscall(SYS_readlinkat, diff_dirfd, p, l2, sizeof l2));
		if (r0 == FL_PASS)
			snprintf(v, sizeof v, "pass");
		else
			snprintf(v, sizeof v, "r=%ld %.*s", r0, r0 > 0 ? (int)r0 : 0, l0);
		fprintf(out, "readlinkat-at %s\tpass\tr=%ld %.*s\t%s\n", p, r2, r2 > 0 ? (int)r2 : 0, l2, v);
	}
	static const int xflags[] = {0, AT_SYMLINK_NOFOLLOW};
	for (unsigned i = 0; i < sizeof xflags / sizeof *xflags; i++) {
		struct statx s0, s1, s2;
		memset(&s0, 0xa5, sizeof s0), memset(&s1, 0, sizeof s1), memset(&s2, 0, sizeof s2);
		long r0 = fl_view_statx(AT_FDCWD, p, xflags[i], STATX_BASIC_STATS, &s0, NULL);
		long r1 = fl_statx(AT_FDCWD, p, xflags[i], STATX_BASIC_STATS, &s1);
		long r2 = sysret(syscall(SYS_statx, AT_FDCWD, p, xflags[i], STATX_BASIC_STATS, &s2));
		put_statx(a, sizeof a, r1, &s1), put_statx(b, sizeof b, r2, &s2), put_statx(v, sizeof v, r0, &s0);
		if (r0 == 0 && r1 == 0 && memcmp(&s0, &s1, sizeof s0) != 0)
			snprintf(v, sizeof v, "bytes differ from the channel's");
		fprintf(out, "statx %x %s\t%s\t%s\t%s\n", xflags[i], p, a, b, v);
	}
	static const int modes[] = {F_OK, R_OK, W_OK, X_OK, R_OK | W_OK | X_OK, 0x10 /* bad */};
	static const int aflags[] = {0, AT_EACCESS, AT_SYMLINK_NOFOLLOW};
	for (unsigned i = 0; i < sizeof modes / sizeof *modes; i++)
		for (unsigned j = 0; j < sizeof aflags / sizeof *aflags; j++) {
			long r0 = fl_view_faccessat(AT_FDCWD, p, modes[i], aflags[j], NULL);
			long r1 = fl_faccessat2(AT_FDCWD, p, modes[i], aflags[j]);
			long r2 = sysret(syscall(SYS_faccessat2, AT_FDCWD, p, modes[i], aflags[j]));
			if (IS_PASS(r1))
				snprintf(a, sizeof a, "pass");
			else
				snprintf(a, sizeof a, "r=%ld", r1);
			if (r0 == FL_PASS)
				snprintf(v, sizeof v, "pass");
			else
				snprintf(v, sizeof v, "r=%ld", r0);
			fprintf(out, "faccessat2 %x,%x %s\t%s\tr=%ld\t%s\n", modes[i], aflags[j], p, a, r2, v);
		}
	static const size_t lens[] = {4096, 3, 0};
	for (unsigned i = 0; i < sizeof lens / sizeof *lens; i++) {
		char l0[4096] = "", l1[4096] = "", l2[4096] = "";
		long r0 = fl_view_readlinkat(AT_FDCWD, p, l0, lens[i], NULL);
		long r1 = fl_readlinkat(AT_FDCWD, p, l1, lens[i]);
		long r2 = sysret(syscall(SYS_readlinkat, AT_FDCWD, p, l2, lens[i]));
		if (IS_PASS(r1))
			snprintf(a, sizeof a, "pass");
		else
			snprintf(a, sizeof a, "r=%ld %.*s", r1, r1 > 0 ? (int)r1 : 0, l1);
		if (r0 == FL_PASS)
			snprintf(v, sizeof v, "pass");
		else
			snprintf(v, sizeof v, "r=%ld %.*s", r0, r0 > 0 ? (int)r0 : 0, l0);
		fprintf(out, "readlinkat %zu %s\t%s\tr=%ld %.*s\t%s\n", lens[i], p, a, r2, r2 > 0 ? (int)r2 : 0, l2, v);
	}
}

static long ns_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* The bench's op classes, each through the channel when chan (falling
 * back to the syscall when it passes, as the library does) or the plain
 * syscall. */
static long b_open(int chan, const char *p, int flags, int mode)
{
	long r = chan ? fl_openat(AT_FDCWD, p, flags, mode) : FL_PASS;
	if (IS_PASS(r))
		r = sysret(syscall(SYS_openat, AT_FDCWD, p, flags, mode));
	return r;
}

static void b_close(int chan, int fd)
{
	if (chan)
		fl_close(fd);
	close(fd);
}

static long open_read_close(int chan, const char *p)
{
	static char buf[4096];
	long fd = b_open(chan, p, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	long n = read(fd, buf, sizeof buf);
	b_close(chan, fd);
	return n > 0 ? 0 : -1;
}

static long create_write_close(int chan, const char *p)
{
	static char buf[4096];
	long fd = b_open(chan, p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	long n = write(fd, buf, sizeof buf);
	b_close(chan, fd);
	return n == sizeof buf ? 0 : -1;
}

static long mkdir_rmdir(int chan, const char *p)
{
	long r = chan ? fl_mkdirat(AT_FDCWD, p, 0755) : FL_PASS;
	if (IS_PASS(r))
		r = sysret(syscall(SYS_mkdirat, AT_FDCWD, p, 0755));
	if (r != 0)
		return r;
	r = chan ? fl_unlinkat(AT_FDCWD, p, AT_REMOVEDIR) : FL_PASS;
	if (IS_PASS(r))
		r = sysret(syscall(SYS_unlinkat, AT_FDCWD, p, AT_REMOVEDIR));
	return r;
}

static int bench(long n, const char *mode, const char *p)
{
	struct stat s;
	char buf[256];
	long bad = 0, t0 = ns_now();
	for (long i = 0; i < n; i++) {
		long r;
		if (!strcmp(mode, "chan-stat"))
			r = fl_newfstatat(AT_FDCWD, p, &s, 0);
		else if (!strcmp(mode, "sys-stat"))
			r = syscall(SYS_newfstatat, AT_FDCWD, p, &s, 0);
		else if (!strcmp(mode, "chan-access"))
			r = fl_faccessat2(AT_FDCWD, p, R_OK, 0);
		else if (!strcmp(mode, "sys-access"))
			r = syscall(SYS_faccessat2, AT_FDCWD, p, R_OK, 0);
		else if (!strcmp(mode, "chan-readlink"))
			r = fl_readlinkat(AT_FDCWD, p, buf, sizeof buf) > 0 ? 0 : -1;
		else if (!strcmp(mode, "sys-readlink"))
			r = syscall(SYS_readlinkat, AT_FDCWD, p, buf, sizeof buf) > 0 ? 0 : -1;
		else if (!strcmp(mode, "chan-open") || !strcmp(mode, "sys-open"))
			r = open_read_close(mode[0] == 'c', p);
		else if (!strcmp(mode, "chan-create") || !strcmp(mode, "sys-create"))
			r = create_write_close(mode[0] == 'c', p);
		else if (!strcmp(mode, "chan-mkdir") || !strcmp(mode, "sys-mkdir"))
			r = mkdir_rmdir(mode[0] == 'c', p);
		else
			return 2;
		if (r != 0)
			bad++;
	}
	long t = ns_now() - t0;
	fprintf(out, "%.1f ns/op %ld failed\n", (double)t / n, bad);
	return 0;
}

static volatile sig_atomic_t rings_handled;

static void on_ring_alarm(int sig)
{
	(void)sig;
	rings_handled = 1;
}

/* rings: the doorbell's test (see the usage above). */
static int rings(long n, const char *p, int sig)
{
	if (sig) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_ring_alarm; /* no SA_RESTART: an EINTR would show */
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, 20}, {0, 20}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	long failed = 0, eintr = 0;
	for (long i = 0; i < n; i++) {
		long r = mkdir_rmdir(1, p);
		failed += r != 0;
		eintr += r == -EINTR;
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	fprintf(out, "failed=%ld eintr=%ld rings=%ld handled=%d\n", failed, eintr, fl_channel_rings(), (int)rings_handled);
	return 0;
}

static const char *ops_dir;
static int ops_chan;   /* the channel answered */
static int ops_kernel; /* it said only the kernel can (FL_KERNEL_PASS) */

static const char *at(const char *name)
{
	static char b[2][4096];
	static int i;
	i ^= 1;
	snprintf(b[i], sizeof b[i], "%s/%s", ops_dir, name);
	return b[i];
}

/* done prints one op's result; fds print as "fd". */
static long done(const char *what, long r, int fdres)
{
	char v[32];
	if (fdres && r >= 0)
		snprintf(v, sizeof v, "fd");
	else
		snprintf(v, sizeof v, "%ld", r);
	fprintf(out, "%s\t%s\t%s\n", what, v, ops_chan ? "chan" : ops_kernel ? "kernel" : "sys");
	return r;
}

#define VIA(chan, sys)                                             \
	({                                                         \
		long r_ = (chan);                                  \
		ops_chan = !IS_PASS(r_);                          \
		ops_kernel = r_ == FL_KERNEL_PASS;                 \
		if (!ops_chan)                                     \
			r_ = sysret(sys);                          \
		r_;                                                \
	})

static long o_open(const char *name, int flags, int mode)
{
	return VIA(fl_openat(AT_FDCWD, at(name), flags, mode), syscall(SYS_openat, AT_FDCWD, at(name), flags, mode));
}

static void o_close(int fd)
{
	fl_close(fd);
	close(fd);
}

static void o_fstat(const char *what, int fd)
{
	struct stat sb;
	long r = VIA(fl_fstat(fd, &sb), syscall(SYS_fstat, fd, &sb));
	char w[128];
	if (r == 0)
		snprintf(w, sizeof w, "%s mode=%o size=%ld nlink=%lu uid=%u", what, sb.st_mode, (long)sb.st_size,
			 (unsigned long)sb.st_nlink, sb.st_uid);
	else
		snprintf(w, sizeof w, "%s", what);
	done(w, r, 0);
}

/* o_fstat_path prints the link count and mode of name (lstat, raw: the
 * same call on both sides). */
static void o_fstat_path(const char *what, const char *name)
{
	struct stat sb;
	long r = sysret(syscall(SYS_newfstatat, AT_FDCWD, at(name), &sb, AT_SYMLINK_NOFOLLOW));
	char w[128];
	if (r == 0)
		snprintf(w, sizeof w, "%s mode=%o size=%ld nlink=%lu", what, sb.st_mode, (long)sb.st_size, (unsigned long)sb.st_nlink);
	else
		snprintf(w, sizeof w, "%s", what);
	ops_chan = 0;
	done(w, r, 0);
}

static int ops(const char *dir)
{
	ops_dir = dir;
	umask(022);
	char buf[64];
	long fd = done("create a excl", o_open("a", O_CREAT | O_WRONLY | O_EXCL, 0640), 1);
	if (fd >= 0) {
		done("write a", write(fd, "hello", 5), 0);
		o_fstat("fstat a", fd);
		o_close(fd);
	}
	done("create a excl again", o_open("a", O_CREAT | O_WRONLY | O_EXCL, 0640), 1);
	fd = done("open a", o_open("a", O_RDONLY, 0), 1);
	if (fd >= 0) {
		long n = read(fd, buf, sizeof buf);
		done(n == 5 && !memcmp(buf, "hello", 5) ? "read a hello" : "read a wrong", n, 0);
		done("write a rdonly", write(fd, "x", 1) < 0 ? -errno : 0, 0);
		o_close(fd);
	}
	fd = done("open a trunc", o_open("a", O_WRONLY | O_TRUNC, 0), 1);
	if (fd >= 0) {
		o_fstat("fstat a trunc", fd);
		done("write a", write(fd, "xy", 2), 0);
		o_close(fd);
	}
	fd = done("open a append", o_open("a", O_WRONLY | O_APPEND, 0), 1);
	if (fd >= 0) {
		done("append a", write(fd, "z", 1), 0);
		o_close(fd);
	}
	fd = done("open a again", o_open("a", O_RDONLY, 0), 1);
	if (fd >= 0) {
		long n = read(fd, buf, sizeof buf - 1);
		char w[96];
		snprintf(w, sizeof w, "content a %.*s", n > 0 ? (int)n : 0, buf);
		done(w, n, 0);
		o_close(fd);
	}
	/* A descriptor replaced behind the library's back (dup2 onto it) is
	 * no longer the channel's to answer for. */
	fd = done("open a for dup2", o_open("a", O_RDONLY, 0), 1);
	if (fd >= 0) {
		int p[2];
		if (pipe(p) == 0) {
			dup2(p[0], fd);
			o_fstat("fstat replaced by dup2", fd);
			close(p[0]), close(p[1]);
		}
		o_close(fd);
	}
	done("open missing", o_open("missing", O_RDONLY, 0), 1);
	done("open a/", o_open("a/", O_RDONLY, 0), 1);
	done("open a/x creat", o_open("a/x", O_CREAT | O_RDWR, 0644), 1);
	done("open d dir before mkdir", o_open("d", O_RDONLY | O_DIRECTORY, 0), 1);
	done("mkdir d", VIA(fl_mkdirat(AT_FDCWD, at("d"), 0750), syscall(SYS_mkdirat, AT_FDCWD, at("d"), 0750)), 0);
	done("mkdir d again", VIA(fl_mkdirat(AT_FDCWD, at("d"), 0750), syscall(SYS_mkdirat, AT_FDCWD, at("d"), 0750)), 0);
	done("mkdir missing/d", VIA(fl_mkdirat(AT_FDCWD, at("missing/d"), 0750), syscall(SYS_mkdirat, AT_FDCWD, at("missing/d"), 0750)), 0);
	fd = done("open d", o_open("d", O_RDONLY, 0), 1);
	if (fd >= 0)
		o_close(fd);
	done("open d wronly", o_open("d", O_WRONLY, 0), 1);
	done("open d creat", o_open("d", O_CREAT | O_RDONLY, 0644), 1);
	fd = done("create d/f", o_open("d/f", O_CREAT | O_RDWR, 0666), 1);
	if (fd >= 0) {
		o_fstat("fstat d/f", fd);
		done("write d/f", write(fd, "ff", 2), 0);
		o_close(fd);
	}
	done("open a o_directory", o_open("a", O_RDONLY | O_DIRECTORY, 0), 1);
	done("open a nofollow", o_open("a", O_RDONLY | O_NOFOLLOW, 0), 1);
	done("link d/f k", VIA(fl_linkat(AT_FDCWD, at("d/f"), AT_FDCWD, at("k"), 0), syscall(SYS_linkat, AT_FDCWD, at("d/f"), AT_FDCWD, at("k"), 0)), 0);
	o_fstat_path("lstat k", "k");
	done("link d/f k again", VIA(fl_linkat(AT_FDCWD, at("d/f"), AT_FDCWD, at("k"), 0), syscall(SYS_linkat, AT_FDCWD, at("d/f"), AT_FDCWD, at("k"), 0)), 0);
	done("link d k", VIA(fl_linkat(AT_FDCWD, at("d"), AT_FDCWD, at("k2"), 0), syscall(SYS_linkat, AT_FDCWD, at("d"), AT_FDCWD, at("k2"), 0)), 0);
	done("link missing", VIA(fl_linkat(AT_FDCWD, at("missing"), AT_FDCWD, at("k2"), 0), syscall(SYS_linkat, AT_FDCWD, at("missing"), AT_FDCWD, at("k2"), 0)), 0);
	done("link bad flags", VIA(fl_linkat(AT_FDCWD, at("d/f"), AT_FDCWD, at("k2"), 0x2), syscall(SYS_linkat, AT_FDCWD, at("d/f"), AT_FDCWD, at("k2"), 0x2)), 0);
	done("unlink k", VIA(fl_unlinkat(AT_FDCWD, at("k"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("k"), 0)), 0);
	done("rename d/f g", VIA(fl_renameat2(AT_FDCWD, at("d/f"), AT_FDCWD, at("g"), 0), syscall(SYS_renameat2, AT_FDCWD, at("d/f"), AT_FDCWD, at("g"), 0)), 0);
	done("rename g a noreplace", VIA(fl_renameat2(AT_FDCWD, at("g"), AT_FDCWD, at("a"), RENAME_NOREPLACE), syscall(SYS_renameat2, AT_FDCWD, at("g"), AT_FDCWD, at("a"), RENAME_NOREPLACE)), 0);
	done("rename g a exchange", VIA(fl_renameat2(AT_FDCWD, at("g"), AT_FDCWD, at("a"), RENAME_EXCHANGE), syscall(SYS_renameat2, AT_FDCWD, at("g"), AT_FDCWD, at("a"), RENAME_EXCHANGE)), 0);
	done("rename bad flags", VIA(fl_renameat2(AT_FDCWD, at("g"), AT_FDCWD, at("a"), 0x40), syscall(SYS_renameat2, AT_FDCWD, at("g"), AT_FDCWD, at("a"), 0x40)), 0);
	done("rename a d", VIA(fl_renameat2(AT_FDCWD, at("a"), AT_FDCWD, at("d"), 0), syscall(SYS_renameat2, AT_FDCWD, at("a"), AT_FDCWD, at("d"), 0)), 0);
	done("unlink d", VIA(fl_unlinkat(AT_FDCWD, at("d"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("d"), 0)), 0);
	done("rmdir a", VIA(fl_unlinkat(AT_FDCWD, at("a"), AT_REMOVEDIR), syscall(SYS_unlinkat, AT_FDCWD, at("a"), AT_REMOVEDIR)), 0);
	done("rmdir d", VIA(fl_unlinkat(AT_FDCWD, at("d"), AT_REMOVEDIR), syscall(SYS_unlinkat, AT_FDCWD, at("d"), AT_REMOVEDIR)), 0);
	done("unlink g", VIA(fl_unlinkat(AT_FDCWD, at("g"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("g"), 0)), 0);
	done("unlink g again", VIA(fl_unlinkat(AT_FDCWD, at("g"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("g"), 0)), 0);
	done("unlink bad flags", VIA(fl_unlinkat(AT_FDCWD, at("a"), 0x1), syscall(SYS_unlinkat, AT_FDCWD, at("a"), 0x1)), 0);
	done("unlink a", VIA(fl_unlinkat(AT_FDCWD, at("a"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("a"), 0)), 0);
	/* An open file unlinked while open stays readable through its fd. */
	fd = done("create h", o_open("h", O_CREAT | O_RDWR | O_TRUNC, 0600), 1);
	if (fd >= 0) {
		done("write h", write(fd, "hhh", 3), 0);
		done("unlink h open", VIA(fl_unlinkat(AT_FDCWD, at("h"), 0), syscall(SYS_unlinkat, AT_FDCWD, at("h"), 0)), 0);
		done("pread h", pread(fd, buf, 3, 0), 0);
		o_fstat("fstat h unlinked", fd);
		o_close(fd);
	}
	return 0;
}

static const char *fork_path;

static void *thread_stat(void *arg)
{
	struct stat s;
	*(long *)arg = fl_newfstatat(AT_FDCWD, fork_path, &s, 0);
	return NULL;
}

/* forks checks each way a second context may reach the channel. */
static int forks(const char *p)
{
	struct stat s;
	fork_path = p;
	fprintf(out, "parent %ld\n", fl_newfstatat(AT_FDCWD, p, &s, 0));
	/* The caller's errno survives a served call. */
	errno = 4242;
	long er = fl_newfstatat(AT_FDCWD, p, &s, 0);
	int e = errno;
	fprintf(out, "errno-kept %ld %d\n", er, e);
	/* ... and a close of a descriptor already gone. */
	long cfd = fl_openat(AT_FDCWD, p, O_RDONLY, 0);
	if (cfd >= 0)
		close((int)cfd);
	errno = 4242;
	fl_close((int)cfd);
	e = errno;
	fprintf(out, "errno-close %d %d\n", cfd >= 0, e);
	pthread_t th;
	long tr = 1;
	pthread_create(&th, NULL, thread_stat, &tr);
	pthread_join(th, NULL);
	fprintf(out, "thread %ld\n", tr);
	fflush(out);
	pid_t c = fork();
	if (c == 0) {
		fl_channel_atfork_child();
		long r = fl_newfstatat(AT_FDCWD, p, &s, 0);
		long r2 = fl_newfstatat(AT_FDCWD, p, &s, 0);
		fprintf(out, "fork-child %ld %ld\n", r, r2);
		fclose(out);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	/* A vfork child on the parent's thread-local slot must pass. */
	volatile long vr = 1;
	c = vfork();
	if (c == 0) {
		vr = fl_newfstatat(AT_FDCWD, p, &s, 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	fprintf(out, "vfork-child %ld\n", vr);
	/* A vfork child that closes a descriptor the channel opened (as
	 * posix_spawn's file actions do) closes its own copy: the parent's
	 * descriptor, and the channel's record of it, must stay. */
	long vfd = fl_openat(AT_FDCWD, p, O_RDONLY, 0);
	c = vfork();
	if (c == 0) {
		if (vfd >= 0 && fl_close((int)vfd) == FL_PASS)
			syscall(SYS_close, (int)vfd);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	fprintf(out, "vfork-close %ld %ld\n", vfd >= 0 ? 0 : vfd, vfd >= 0 ? fl_fstat((int)vfd, &s) : vfd);
	if (vfd >= 0 && fl_close((int)vfd) == FL_PASS)
		close((int)vfd);
	/* A fork child that did not call fl_channel_atfork_child passes too. */
	c = fork();
	if (c == 0) {
		long r = fl_newfstatat(AT_FDCWD, p, &s, 0);
		fprintf(out, "raw-fork-child %ld\n", r);
		fclose(out);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	fprintf(out, "parent-again %ld\n", fl_newfstatat(AT_FDCWD, p, &s, 0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	out = fopen(argv[1], "w");
	if (!out)
		return 3;
	setvbuf(out, NULL, _IOLBF, 0);
	int i = 2;
	long uid = -1;
	if (!strcmp(argv[i], "-C") && i + 1 < argc) {
		if (chdir(argv[i + 1]) < 0)
			return 5;
		i += 2;
	}
	if (!strcmp(argv[i], "-d") && i + 1 < argc) {
		diff_dirfd = (int)syscall(SYS_openat, AT_FDCWD, argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (diff_dirfd < 0)
			return 6;
		i += 2;
	}
	if (!strcmp(argv[i], "-u") && i + 1 < argc) {
		uid = atol(argv[i + 1]);
		i += 2;
	}
	const char *mount = getenv("BTFUSE_MOUNT");
	int e = fl_channel_init(mount ? mount : "");
	fprintf(out, "# init %d\n", e);
	if (uid >= 0) {
		/* Handshake first, as root, then drop: the daemon must see the
		 * new ids (the seccomp lane notifies setresuid). */
		struct stat s;
		fprintf(out, "# before drop %ld\n", fl_newfstatat(AT_FDCWD, "/", &s, 0));
		if (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setresgid, uid, uid, uid) || syscall(SYS_setresuid, uid, uid, uid))
			return 4;
	}
	int r = 0;
	if (!strcmp(argv[i], "diff")) {
		for (i++; i < argc; i++)
			diff(argv[i]);
	} else if (!strcmp(argv[i], "bench") && i + 3 < argc) {
		r = bench(atol(argv[i + 1]), argv[i + 2], argv[i + 3]);
	} else if (!strcmp(argv[i], "count") && i + 2 < argc) {
		/* N stats of PATH through the channel, one result a line. */
		for (long k = atol(argv[i + 1]); k > 0; k--) {
			struct stat sb;
			fprintf(out, "%ld\n", fl_newfstatat(AT_FDCWD, argv[i + 2], &sb, 0));
		}
	} else if ((!strcmp(argv[i], "rcount") || !strcmp(argv[i], "wcount")) && i + 2 < argc) {
		/* An open of PATH (read-only, or for writing), then N stats. */
		long fd = fl_openat(AT_FDCWD, argv[i + 2], argv[i][0] == 'r' ? O_RDONLY : O_WRONLY, 0);
		fprintf(out, "%s\n", fd >= 0 ? "fd" : fd == FL_PASS ? "pass" : "err");
		if (fd >= 0 && fl_close((int)fd) == FL_PASS)
			close((int)fd);
		for (long k = atol(argv[i + 1]); k > 0; k--) {
			struct stat sb;
			fprintf(out, "%ld\n", fl_newfstatat(AT_FDCWD, argv[i + 2], &sb, 0));
		}
	} else if (!strcmp(argv[i], "ops") && i + 1 < argc) {
		r = ops(argv[i + 1]);
	} else if (!strcmp(argv[i], "fork") && i + 1 < argc) {
		r = forks(argv[i + 1]);
	} else if (!strcmp(argv[i], "rings") && i + 2 < argc) {
		r = rings(atol(argv[i + 1]), argv[i + 2], i + 3 < argc && !strcmp(argv[i + 3], "sig"));
	} else {
		r = 2;
	}
	fclose(out);
	return r;
}
