// flviewopen opens existing files read-only under a directory given as
// its argument, the opens the fast lane answers from its metadata view,
// and does to them what can go wrong between an open made inside the
// process and the filesystem's daemon: unlink and rename over the file
// while it is open, chmod by another process and by the descriptor, dup,
// dup2 and close chains, fork with the parent closing first, exec with
// and without O_CLOEXEC, names freed and made again, flags the view must
// leave alone (O_NOFOLLOW on a symlink, O_TRUNC, O_NOATIME), a thread
// renaming the names an open walks, and a credential change after the
// first opens. It prints one line per step, with nothing that differs
// between two filesystems (no inode numbers, no devices: only whether
// fstat of a descriptor names the file stat of its path names, and the
// free inodes of the filesystem relative to the start). The fast lane's
// tests compare its transcript under 'btfuse run' with the same program's
// in a kernel tmpfs.
//
//   flviewopen DIR           the steps above, in DIR
//   flviewopen loop N PATH   open, fstat, read and close PATH N times
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char dir[4096];
static unsigned long ffree0;

static const char *P(const char *name)
{
	static char buf[4][4200];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void out(const char *what, long r)
{
	printf("%-36s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	fflush(stdout);
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

// opened prints an open's result without its number (the library's own
// descriptors may take the lowest ones).
static int opened(const char *what, int fd)
{
	if (fd >= 0)
		printf("%-36s fd\n", what);
	else
		out(what, fd);
	fflush(stdout);
	return fd;
}

static void put(const char *name, const char *data, mode_t mode)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) || close(fd) != 0) {
		perror(name);
		exit(1);
	}
	chmod(P(name), mode);
}

// desc prints what fstat of fd says, in terms that do not depend on the
// filesystem: link count, type and mode, owner, size, whether it is the
// file path names now (device and inode), and what a read from 0 gives.
static void desc(const char *what, int fd, const char *path)
{
	struct stat a, b, d;
	if (fstat(fd, &a) != 0) {
		out(what, -1);
		return;
	}
	int same = path && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	int ondev = stat(dir, &d) == 0 && a.st_dev == d.st_dev;
	char buf[64] = {0};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	printf("%-36s nlink=%lu mode=%o uid=%u size=%ld same=%d dev=%d read=%zd:%s\n", what, (unsigned long)a.st_nlink,
	       a.st_mode, a.st_uid, (long)a.st_size, same, ondev, n, n > 0 ? buf : "");
	fflush(stdout);
}

// ffree prints the free inodes of the filesystem relative to the start:
// a file kept past its last descriptor shows as one fewer.
static void ffree(const char *what)
{
	struct statvfs s;
	if (statvfs(dir, &s) != 0) {
		out(what, -1);
		return;
	}
	printf("%-36s %ld\n", what, (long)s.f_ffree - (long)ffree0);
	fflush(stdout);
}

static long ctime_ns(const struct stat *s) { return s->st_ctim.tv_sec * 1000000000L + s->st_ctim.tv_nsec; }

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static void unlinked(void)
{
	put("u", "unlinked", 0640);
	struct stat before, after;
	int fd = open(P("u"), O_RDONLY);
	opened("open u", fd);
	fstat(fd, &before);
	pause_ms(20);
	T("unlink u", unlink(P("u")));
	desc("fstat u unlinked", fd, NULL);
	fstat(fd, &after);
	T("ctime moved by the unlink", ctime_ns(&after) > ctime_ns(&before));
	T("fchmod u unlinked", fchmod(fd, 0600));
	desc("fstat u after fchmod", fd, NULL);
	ffree("free inodes, u open");
	T("close u", close(fd));
	ffree("free inodes, u closed");
}

static void renamed_over(void)
{
	put("a", "old a", 0644);
	put("b", "new b", 0600);
	int fd = open(P("a"), O_RDONLY | O_CLOEXEC);
	opened("open a", fd);
	T("rename b a", rename(P("b"), P("a")));
	desc("fstat a after rename over", fd, P("a"));
	int fd2 = open(P("a"), O_RDONLY);
	desc("fstat the new a", fd2, P("a"));
	T("close old a", close(fd));
	T("close new a", close(fd2));
	T("unlink a", unlink(P("a")));
	ffree("free inodes, a gone");
}

static void chmod_elsewhere(void)
{
	put("c", "chmod", 0644);
	int fd = open(P("c"), O_RDONLY);
	opened("open c", fd);
	pid_t p = fork();
	if (p == 0) {
		int r = chmod(P("c"), 0604);
		_exit(r == 0 ? 0 : 1);
	}
	int st;
	waitpid(p, &st, 0);
	T("chmod c in a child", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	desc("fstat c after the child's chmod", fd, P("c"));
	T("fchown c", fchown(fd, 1000, 1000));
	desc("fstat c after fchown", fd, P("c"));
	struct stat s;
	stat(P("c"), &s);
	printf("%-36s uid=%u mode=%o\n", "stat c after fchown", s.st_uid, s.st_mode);
	T("fsetxattr c", fsetxattr(fd, "user.k", "v", 1, 0));
	char v[8] = {0};
	T("getxattr c", getxattr(P("c"), "user.k", v, sizeof v));
	T("close c", close(fd));
	T("unlink c", unlink(P("c")));
}

static void dup_chain(void)
{
	put("d", "dup", 0644);
	int fd = open(P("d"), O_RDONLY);
	opened("open d", fd);
	T("dup2 d 100", dup2(fd, 100));
	T("close d", close(fd));
	desc("fstat 100", 100, P("d"));
	int fd2 = fcntl(100, F_DUPFD_CLOEXEC, 200);
	T("F_DUPFD_CLOEXEC 100", fd2);
	T("dup3 200 101", dup3(fd2, 101, O_CLOEXEC));
	T("close 100", close(100));
	T("unlink d", unlink(P("d")));
	desc("fstat 200 unlinked", fd2, NULL);
	T("close 200", close(fd2));
	desc("fstat 101 unlinked", 101, NULL);
	ffree("free inodes, d held by 101");
	put("e", "other", 0644);
	int e = open(P("e"), O_RDONLY);
	opened("open e", e);
	T("dup2 e 101", dup2(e, 101));
	ffree("free inodes, d replaced");
	desc("fstat 101 is e", 101, P("e"));
	T("close_range e..", close_range(e, 101, 0));
	T("unlink e", unlink(P("e")));
	ffree("free inodes, e closed by range");
}

static void forked(void)
{
	put("f", "forked", 0644);
	int fd = open(P("f"), O_RDONLY);
	opened("open f", fd);
	int go[2];
	if (pipe(go) != 0)
		exit(1);
	pid_t p = fork();
	if (p == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		char buf[16] = {0};
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		_exit(n == 6 && !strcmp(buf, "forked") ? 0 : 1);
	}
	close(go[0]);
	T("close f in the parent", close(fd));
	T("unlink f", unlink(P("f")));
	if (write(go[1], "x", 1) != 1)
		exit(1);
	close(go[1]);
	int st;
	waitpid(p, &st, 0);
	T("the child reads f", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	ffree("free inodes, f gone");
}

static void execed(const char *self)
{
	put("x", "execed", 0644);
	int keep = open(P("x"), O_RDONLY);
	int cloexec = open(P("x"), O_RDONLY | O_CLOEXEC);
	opened("open x", keep);
	opened("open x cloexec", cloexec);
	char a[16], b[16];
	snprintf(a, sizeof a, "%d", keep);
	snprintf(b, sizeof b, "%d", cloexec);
	pid_t p = fork();
	if (p == 0) {
		execl(self, self, "--exec-check", a, b, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
	T("exec", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(keep);
	close(cloexec);
	unlink(P("x"));
}

static int exec_check(int keep, int cloexec)
{
	char buf[16] = {0};
	ssize_t n = pread(keep, buf, sizeof buf - 1, 0);
	int r = fcntl(cloexec, F_GETFD);
	return (n == 6 && !strcmp(buf, "execed") ? 0 : 1) | (r < 0 && errno == EBADF ? 0 : 2);
}

static void flags(void)
{
	put("g", "flags", 0644);
	T("symlink g l", symlink("g", P("l")));
	int fd = open(P("l"), O_RDONLY | O_NOFOLLOW);
	opened("open l O_NOFOLLOW", fd);
	fd = open(P("l"), O_RDONLY);
	desc("open l", fd, P("g"));
	close(fd);
	fd = open(P("g/"), O_RDONLY);
	opened("open g/", fd);
	fd = open(P("nope"), O_RDONLY);
	opened("open nope", fd);
	fd = open(P("g/x"), O_RDONLY);
	opened("open g/x", fd);
	fd = open(P("g"), O_RDONLY | O_NOATIME);
	opened("open g O_NOATIME", fd);
	close(fd);
	fd = open(P("g"), O_RDONLY | O_TRUNC);
	desc("open g O_TRUNC", fd, P("g"));
	close(fd);
	T("unlink l", unlink(P("l")));
	T("unlink g", unlink(P("g")));
}

static void reused(void)
{
	for (int i = 0; i < 3; i++) {
		char data[16];
		snprintf(data, sizeof data, "gen%d", i);
		put("r", data, 0644);
		int fd = open(P("r"), O_RDONLY);
		desc("open r again", fd, P("r"));
		close(fd);
		unlink(P("r"));
	}
	ffree("free inodes, r gone");
}

// The race: a thread swaps two names (rename through a third) while the
// main thread opens one of them; every open that succeeds must read the
// content of the inode fstat names, and no inode may stay behind.
static volatile int stop;
static void *swapper(void *arg)
{
	(void)arg;
	while (!stop) {
		rename(P("s1"), P("s3"));
		rename(P("s2"), P("s1"));
		rename(P("s3"), P("s2"));
	}
	return NULL;
}

static void race(void)
{
	put("s1", "one", 0644);
	put("s2", "two", 0644);
	struct stat s1, s2;
	stat(P("s1"), &s1);
	stat(P("s2"), &s2);
	pthread_t t;
	pthread_create(&t, NULL, swapper, NULL);
	int bad = 0, ok = 0;
	for (int i = 0; i < 3000; i++) {
		int fd = open(P("s1"), O_RDONLY);
		if (fd < 0) {
			if (errno != ENOENT)
				bad++;
			continue;
		}
		struct stat a;
		char buf[8] = {0};
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		if (fstat(fd, &a) != 0 || n != 3 || (strcmp(buf, "one") && strcmp(buf, "two")) ||
		    a.st_ino != (!strcmp(buf, "one") ? s1.st_ino : s2.st_ino))
			bad++;
		else
			ok++;
		close(fd);
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("%-36s bad=%d some=%d\n", "race: opens while renaming", bad, ok > 0);
	unlink(P("s1"));
	unlink(P("s2"));
	ffree("free inodes, race over");
}

static void setuid_later(void)
{
	put("pub", "public", 0644);
	put("secret", "secret", 0600);
	int fd = open(P("secret"), O_RDONLY);
	opened("open secret as root", fd);
	close(fd);
	T("setresuid 1000", setresuid(1000, 1000, 1000));
	fd = open(P("secret"), O_RDONLY);
	opened("open secret as 1000", fd);
	fd = open(P("pub"), O_RDONLY);
	char buf[16] = {0};
	T("open pub as 1000, read", fd < 0 ? -1 : read(fd, buf, sizeof buf));
}

// loop opens path n times, reads it, fstats the descriptor and closes it.
static int loop(int n, const char *path)
{
	int ok = 0, fails = 0;
	char buf[4096];
	for (int i = 0; i < n; i++) {
		struct stat st;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && read(fd, buf, sizeof buf) == st.st_size)
			ok++;
		else
			fails++;
		if (fd >= 0)
			close(fd);
	}
	printf("loop ok=%d fails=%d\n", ok, fails);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--exec-check"))
		return exec_check(atoi(argv[2]), atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "loop"))
		return loop(atoi(argv[2]), argv[3]);
	if (argc != 2 || strlen(argv[1]) >= sizeof dir) {
		fprintf(stderr, "usage: flviewopen DIR\n");
		return 2;
	}
	strcpy(dir, argv[1]);
	chmod(dir, 0777);
	struct statvfs s;
	if (statvfs(dir, &s) != 0) {
		perror("statvfs");
		return 1;
	}
	ffree0 = s.f_ffree;
	unlinked();
	renamed_over();
	chmod_elsewhere();
	dup_chain();
	forked();
	execed("/proc/self/exe");
	flags();
	reused();
	race();
	setuid_later();
	return 0;
}
