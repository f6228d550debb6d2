// fldirfd makes path calls relative to directory descriptors, as find,
// rm -r and tar do, in a fresh directory given as its argument, and
// prints one line per call: the result, errno and what it saw. The fast
// lane's tests run it natively in a kernel tmpfs and under 'btfuse run'
// with the library, and compare the transcripts: relative to a directory
// descriptor under the mount the library sends attribute reads to the
// kernel, opens and name changes to the channel, directory opens to the
// kernel.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void out(const char *what, long r)
{
	printf("%-32s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

static void st(const char *what, int r, const struct stat *s)
{
	if (r == 0)
		printf("%-32s 0 mode=%o size=%ld nlink=%ld\n", what, s->st_mode, (long)s->st_size, (long)s->st_nlink);
	else
		out(what, r);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// walk lists dir (a descriptor it takes over) as fts does: the names,
// sorted, each with lstat relative to dir, recursing into directories
// through openat(dir, name, O_DIRECTORY).
static void walk(int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		out("fdopendir", -1);
		close(dfd);
		return;
	}
	char *names[64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	qsort(names, n, sizeof *names, cmp);
	for (int i = 0; i < n; i++) {
		struct stat s;
		char what[256];
		snprintf(what, sizeof what, "lstat %s/%s", prefix, names[i]);
		int r = fstatat(dirfd(d), names[i], &s, AT_SYMLINK_NOFOLLOW);
		st(what, r, &s);
		if (r == 0 && S_ISDIR(s.st_mode) && depth < 4) {
			int sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			snprintf(what, sizeof what, "openat dir %s/%s", prefix, names[i]);
			out(what, sub < 0 ? -1 : 0);
			struct stat self;
			if (sub >= 0) {
				snprintf(what, sizeof what, "fstatat empty %s/%s", prefix, names[i]);
				st(what, fstatat(sub, "", &self, AT_EMPTY_PATH), &self);
				char p[256];
				snprintf(p, sizeof p, "%s/%s", prefix, names[i]);
				walk(sub, p, depth + 1);
			}
		}
		free(names[i]);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fldirfd DIR\n");
		return 2;
	}
	umask(022);
	char buf[256];
	struct stat s;
	T("mkdir t", mkdir("t", 0755));
	int t = open("t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out("open t", t < 0 ? -1 : 0);
	// Names made and changed relative to the descriptor.
	T("mkdirat a", mkdirat(t, "a", 0750));
	T("mkdirat a again", mkdirat(t, "a", 0750));
	T("mkdirat a/b", mkdirat(t, "a/b", 0700));
	int fd = openat(t, "a/f", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
	out("openat create a/f", fd < 0 ? -1 : 0);
	// A file open for writing: its size as the writer changes it, seen
	// relative to the descriptor (the kernel must not answer from a cache).
	T("write a/f", write(fd, "hello\n", 6));
	st("fstatat a/f while open", fstatat(t, "a/f", &s, 0), &s);
	T("write a/f more", write(fd, "world\n", 6));
	st("fstatat a/f while open again", fstatat(t, "a/f", &s, 0), &s);
	close(fd);
	st("fstatat a/f closed", fstatat(t, "a/f", &s, 0), &s);
	fd = openat(t, "a/f", O_RDONLY | O_CLOEXEC);
	memset(buf, 0, sizeof buf);
	T("openat read a/f", fd < 0 ? -1 : read(fd, buf, sizeof buf - 1));
	printf("  -> %s", buf);
	st("fstat a/f", fstat(fd, &s), &s);
	close(fd);
	fd = openat(t, "a/f", O_WRONLY | O_TRUNC | O_CLOEXEC);
	out("openat trunc a/f", fd < 0 ? -1 : 0);
	st("fstatat a/f truncated", fstatat(t, "a/f", &s, 0), &s);
	T("write a/f after trunc", write(fd, "x", 1));
	close(fd);
	st("fstatat a/f rewritten", fstatat(t, "a/f", &s, 0), &s);
	T("openat missing", openat(t, "missing", O_RDONLY));
	T("openat a as file for write", openat(t, "a", O_WRONLY));
	T("openat a/f as dir", openat(t, "a/f", O_RDONLY | O_DIRECTORY));
	T("openat dotdot", ({ int x = openat(t, "../t/a/f", O_RDONLY); if (x >= 0) close(x); x < 0 ? -1 : 0; }));
	T("symlinkat a/l", symlinkat("f", t, "a/l"));
	memset(buf, 0, sizeof buf);
	T("readlinkat a/l", readlinkat(t, "a/l", buf, sizeof buf));
	printf("  -> %s\n", buf);
	T("readlinkat a/f", readlinkat(t, "a/f", buf, sizeof buf));
	st("fstatat follow a/l", fstatat(t, "a/l", &s, 0), &s);
	st("fstatat nofollow a/l", fstatat(t, "a/l", &s, AT_SYMLINK_NOFOLLOW), &s);
	T("faccessat a/f R", faccessat(t, "a/f", R_OK, 0));
	T("faccessat a/f X", faccessat(t, "a/f", X_OK, 0));
	T("faccessat missing", faccessat(t, "missing", F_OK, 0));
	{
		struct statx x;
		int r = statx(t, "a/f", 0, STATX_BASIC_STATS, &x);
		printf("%-32s %d size=%lld mode=%o\n", "statx a/f", r, r == 0 ? (long long)x.stx_size : -1LL,
		       r == 0 ? x.stx_mode : 0);
	}
	T("renameat a/f a/g", renameat(t, "a/f", t, "a/g"));
	st("fstatat a/f renamed", fstatat(t, "a/f", &s, 0), &s);
	st("fstatat a/g", fstatat(t, "a/g", &s, 0), &s);
	T("renameat a/g to cwd t/h", renameat(t, "a/g", AT_FDCWD, "t/h"));
	T("renameat missing", renameat(t, "a/g", t, "a/x"));
	T("linkat t/h a/k", linkat(t, "h", t, "a/k", 0));
	T("fchmodat a/k", fchmodat(t, "a/k", 0600, 0));
	T("utimensat a/k", utimensat(t, "a/k", NULL, 0));
	T("unlinkat a", unlinkat(t, "a", 0));
	T("unlinkat a/b rmdir", unlinkat(t, "a/b", AT_REMOVEDIR));
	T("mkfifoat a/p", mkfifoat(t, "a/p", 0600));
	T("mkdirat a/c", mkdirat(t, "a/c", 0755));
	T("mkdirat a/c/d", mkdirat(t, "a/c/d", 0755));
	// A walk like find's, from a fresh descriptor.
	int w = openat(AT_FDCWD, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out("openat walk root", w < 0 ? -1 : 0);
	if (w >= 0)
		walk(w, "t", 0);
	// fchdir to a descriptor, then relative paths.
	int a = openat(t, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	T("fchdir a", fchdir(a));
	st("stat k after fchdir", stat("k", &s), &s);
	T("chdir ..", chdir(".."));
	st("stat h", stat("h", &s), &s);
	close(a);
	// Clean up relative to the descriptor.
	T("unlinkat h", unlinkat(t, "h", 0));
	T("unlinkat a/k", unlinkat(t, "a/k", 0));
	T("unlinkat a/l", unlinkat(t, "a/l", 0));
	T("unlinkat a/p", unlinkat(t, "a/p", 0));
	T("unlinkat a/c/d", unlinkat(t, "a/c/d", AT_REMOVEDIR));
	T("unlinkat a/c", unlinkat(t, "a/c", AT_REMOVEDIR));
	T("unlinkat a", unlinkat(t, "a", AT_REMOVEDIR));
	close(t);
	T("rmdir t", rmdir("t"));
	return 0;
}
