// flreach makes path calls on each path it is given and prints one line
// per call: the result and errno, never the path. TAG names what mkdir and
// open(O_CREAT) make under each path, so that runs on one mount do not
// collide. The ancestor tests run it as another user through the FUSE
// mount and through btfuse run, from several working directories, to see
// who may reach the mount through the directories above it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void out(int i, const char *what, long r)
{
	printf("%d %-8s %ld %s\n", i, what, r < 0 ? -1L : r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: flreach TAG PATH...\n");
		return 2;
	}
	umask(022);
	for (int i = 2; i < argc; i++) {
		const char *p = argv[i];
		char sub[4096];
		struct stat s;
		int r = stat(p, &s);
		if (r == 0)
			printf("%d stat     0 mode=%o uid=%d\n", i, s.st_mode, s.st_uid);
		else
			out(i, "stat", r);
		out(i, "lstat", lstat(p, &s));
		struct statx x;
		out(i, "statx", statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &x));
		out(i, "access", access(p, R_OK));
		out(i, "faccess", faccessat(AT_FDCWD, p, X_OK, AT_EACCESS));
		int fd = open(p, O_RDONLY);
		out(i, "open", fd < 0 ? fd : 0);
		if (fd >= 0)
			close(fd);
		snprintf(sub, sizeof sub, "%s/d-%s", p, argv[1]);
		out(i, "mkdir", mkdir(sub, 0755));
		snprintf(sub, sizeof sub, "%s/f-%s", p, argv[1]);
		fd = open(sub, O_WRONLY | O_CREAT | O_EXCL, 0644);
		out(i, "create", fd < 0 ? fd : 0);
		if (fd >= 0)
			close(fd);
		out(i, "unlink", unlink(sub));
	}
	return 0;
}
