// flfaults makes one call of every class the fast lane answers in the
// process or sends to the kernel from its trampoline, under the directory
// given as its first argument (the mount) and under the second (outside
// it), each on a name a fault rule of the tests matches ("faulty") and on
// one it does not ("fine"): the metadata view's stat, lstat, statx,
// access and readlink, the channel's open and mkdir, and the kernel's
// directory opens, opendir, chdir, stat relative to a directory descriptor
// and utimes. It prints one line per call (result and errno name), and
// "N end" after round N. The
// tests compare its transcript under a fault rule on the fast lane with
// the seccomp lane's (--no-fast-lane).
//
//   flfaults MOUNT OUTSIDE         once
//   flfaults MOUNT OUTSIDE wait    once, then again after a line on stdin
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int round_;

static void out(const char *what, const char *path, long r)
{
	printf("%d %-10s %-24s %s\n", round_, what, path, r < 0 ? strerrorname_np(errno) : "ok");
	errno = 0;
}

static void calls(const char *top, const char *where, const char *name)
{
	char d[4200], f[4300], l[4300], sub[4300], shown[64];
	snprintf(d, sizeof d, "%s/%s", top, name);
	snprintf(f, sizeof f, "%s/f", d);
	snprintf(l, sizeof l, "%s/l", d);
	snprintf(sub, sizeof sub, "%s/d%d", d, round_);
	snprintf(shown, sizeof shown, "%s/%s", where, name);
	struct stat s;
	struct statx sx;
	char buf[64];
	out("stat", shown, stat(f, &s));
	out("lstat", shown, lstat(l, &s));
	out("statx", shown, statx(AT_FDCWD, f, 0, STATX_BASIC_STATS, &sx));
	out("access", shown, access(f, R_OK));
	out("access W", shown, access(f, W_OK));
	out("readlink", shown, readlink(l, buf, sizeof buf));
	int fd = open(f, O_RDONLY);
	out("open", shown, fd);
	if (fd >= 0)
		close(fd);
	out("mkdir", shown, mkdir(sub, 0755));
	fd = open(d, O_RDONLY | O_DIRECTORY);
	out("open dir", shown, fd);
	if (fd >= 0) {
		out("fstatat", shown, fstatat(fd, "f", &s, 0));
		out("faccessat", shown, faccessat(fd, "f", R_OK, 0));
		close(fd);
	}
	DIR *dp = opendir(d);
	out("opendir", shown, dp ? 0 : -1);
	if (dp)
		closedir(dp);
	char cwd[4200];
	if (!getcwd(cwd, sizeof cwd))
		exit(1);
	out("chdir", shown, chdir(d));
	if (chdir(cwd) != 0)
		exit(1);
	out("utimes", shown, utimes(f, NULL));
}

static void all(const char *mount, const char *outside)
{
	calls(mount, "MOUNT", "faulty");
	calls(mount, "MOUNT", "fine");
	calls(outside, "OUTSIDE", "faulty");
	calls(outside, "OUTSIDE", "fine");
	printf("%d end\n", round_);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: flfaults MOUNT OUTSIDE [wait]\n");
		return 2;
	}
	// A first call under the mount, which no rule matches: the
	// handshake (BTFUSE_FAST_AFTER=0).
	struct stat s;
	if (stat(argv[1], &s) != 0) {
		perror(argv[1]);
		return 1;
	}
	all(argv[1], argv[2]);
	if (argc == 4) {
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 1;
		round_ = 1;
		all(argv[1], argv[2]);
	}
	return 0;
}
