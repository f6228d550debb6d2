// fldiropen opens directories without O_DIRECTORY under a directory given
// as its argument, as sqlite opens a database's directory to fsync it, and
// the opens around them that are not of a searchable directory: a symlink
// to a directory followed and not (O_NOFOLLOW), a file named with a
// trailing slash, a missing name, a name under a file, a directory opened
// for writing or with O_CREAT, O_TRUNC or O_NOATIME, a directory removed
// while open, and as another user a directory it may not read or search.
// It prints one line per step, with nothing that differs between two
// filesystems (no inode numbers, no devices). The fast lane's tests
// compare its transcript under 'btfuse run' with the same program's in a
// kernel tmpfs.
//
//   fldiropen DIR           the steps above, in DIR
//   fldiropen loop N DIR    N opens of DIR (read-only, no O_DIRECTORY),
//                           each with fstat, fsync and close
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[4096];

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
	printf("%-40s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	fflush(stdout);
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

// entries counts a directory descriptor's entries, "." and ".." included.
static long entries(int fd)
{
	char buf[4096];
	long n = 0;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (got < 0)
			return -1;
		if (got == 0)
			return n;
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			n++;
			off += d->d_reclen;
		}
	}
}

// open_dir opens path with flags and prints what the descriptor is: its
// type and mode, its entries, and whether fsync and a read work on it.
static void open_dir(const char *what, const char *path, int flags)
{
	int fd = open(path, flags, 0644);
	if (fd < 0) {
		out(what, fd);
		return;
	}
	struct stat st;
	char c;
	int fs = fsync(fd);
	int fe = fs ? errno : 0;
	ssize_t rd = read(fd, &c, 1);
	int re = rd < 0 ? errno : 0;
	if (fstat(fd, &st) != 0) {
		out(what, -1);
	} else {
		printf("%-40s fd mode=%o entries=%ld fsync=%d %s read=%zd %s\n", what, st.st_mode, entries(fd), fs,
		       fe ? strerrorname_np(fe) : "", rd, re ? strerrorname_np(re) : "");
	}
	fflush(stdout);
	close(fd);
}

static void steps(void)
{
	T("mkdir d", mkdir(P("d"), 0755));
	T("mkdir d/sub", mkdir(P("d/sub"), 0755));
	int f = open(P("d/file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	T("create d/file", f >= 0 ? 0 : -1);
	close(f);
	T("symlink d l", symlink("d", P("l")));

	open_dir("open d", P("d"), O_RDONLY);
	open_dir("open d nonblock cloexec", P("d"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	open_dir("open d/", P("d/"), O_RDONLY);
	open_dir("open d/.", P("d/."), O_RDONLY);
	open_dir("open d/sub/..", P("d/sub/.."), O_RDONLY);
	open_dir("open l (a symlink to d)", P("l"), O_RDONLY);
	open_dir("open l/sub", P("l/sub"), O_RDONLY);
	open_dir("open l nofollow", P("l"), O_RDONLY | O_NOFOLLOW);
	open_dir("open the mount's directory", dir, O_RDONLY);
	open_dir("open d/file/", P("d/file/"), O_RDONLY);
	open_dir("open d/file/x", P("d/file/x"), O_RDONLY);
	open_dir("open d/missing", P("d/missing"), O_RDONLY);
	open_dir("open missing/x", P("missing/x"), O_RDONLY);
	open_dir("open d wronly", P("d"), O_WRONLY);
	open_dir("open d rdwr", P("d"), O_RDWR);
	open_dir("open d creat", P("d"), O_RDONLY | O_CREAT);
	open_dir("open d trunc", P("d"), O_RDONLY | O_TRUNC);
	open_dir("open d noatime", P("d"), O_RDONLY | O_NOATIME);

	// A directory removed while open: its descriptor stays a directory
	// with no entries.
	T("mkdir gone", mkdir(P("gone"), 0755));
	int g = open(P("gone"), O_RDONLY);
	T("open gone", g >= 0 ? 0 : -1);
	T("rmdir gone", rmdir(P("gone")));
	struct stat st;
	T("fstat gone", fstat(g, &st));
	printf("%-40s nlink=%lu entries=%ld\n", "gone after rmdir", (unsigned long)st.st_nlink, entries(g));
	close(g);
	open_dir("open gone again", P("gone"), O_RDONLY);

	// Another user: a directory it may search but not read, one it may
	// read but not search, and one under a directory it may not search.
	T("mkdir noread", mkdir(P("noread"), 0711));
	T("mkdir nosearch", mkdir(P("nosearch"), 0744));
	T("mkdir closed", mkdir(P("closed"), 0700));
	T("mkdir closed/in", mkdir(P("closed/in"), 0755));
	T("chmod noread", chmod(P("noread"), 0711));
	T("chmod nosearch", chmod(P("nosearch"), 0744));
	T("chmod closed", chmod(P("closed"), 0700));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0)
			_exit(2);
		open_dir("uid 1000: open d", P("d"), O_RDONLY);
		open_dir("uid 1000: open noread", P("noread"), O_RDONLY);
		open_dir("uid 1000: open nosearch", P("nosearch"), O_RDONLY);
		open_dir("uid 1000: open nosearch/.", P("nosearch/."), O_RDONLY);
		open_dir("uid 1000: open closed/in", P("closed/in"), O_RDONLY);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	T("uid 1000 child exit", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int loop(long n, const char *path)
{
	long fails = 0;
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || fsync(fd) != 0)
			fails++;
		if (fd >= 0)
			close(fd);
	}
	printf("loop ok=%ld fails=%ld\n", n - fails, fails);
	return fails != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "loop"))
		return loop(atol(argv[2]), argv[3]);
	if (argc != 2 || strlen(argv[1]) >= sizeof dir) {
		fprintf(stderr, "usage: fldiropen DIR | fldiropen loop N DIR\n");
		return 2;
	}
	strcpy(dir, argv[1]);
	steps();
	return 0;
}
