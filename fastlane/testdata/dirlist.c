// dirlist lists a directory while it changes the directory's entries, in
// a fresh directory given as its argument, and prints what it saw: after
// each change, the listing of a directory stream opened before the change
// (rewinddir), of a new stream, and of a forked child. It also reads a
// stream in small getdents64 calls, removes the names it has not reached
// yet, and counts the removed names the rest of the stream still returns;
// and it checks that listing a directory whose mode changed moves its
// atime (relatime). The tests run it natively in a kernel tmpfs and under
// 'btfuse run', where its directory reads go through the FUSE mount and
// its changes through a lane, and compare the transcripts: a listing the
// kernel cached through FUSE must not outlive a change made elsewhere.
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
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// show prints the names a stream returns from where it is, sorted,
// without "." and "..".
static void show(const char *what, DIR *d)
{
	char *names[256];
	int n = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == 256) {
			printf("%s: too many entries\n", what);
			exit(1);
		}
		names[n++] = strdup(e->d_name);
	}
	if (errno != 0) {
		printf("%s: readdir: %s\n", what, strerrorname_np(errno));
		return;
	}
	qsort(names, n, sizeof names[0], cmp);
	printf("%-8s", what);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static void list(const char *what, const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("%s: opendir: %s\n", what, strerrorname_np(errno));
		return;
	}
	show(what, d);
	closedir(d);
}

static void fresh_and_child(const char *dir)
{
	list("fresh", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		list("child", dir);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("child failed\n");
		exit(1);
	}
}

static void result(const char *what, int r)
{
	printf("%-24s %d %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}

static int touch(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	return close(fd);
}

// midstream reads dir in getdents64 calls of 256 bytes: the first call,
// then removes every file it has not returned yet, then reads on. A name
// removed before the stream reached it must not come (fs/libfs.c on a
// tmpfs; POSIX leaves only names added or removed after the stream passed
// them unspecified). Names already returned may come again on a 6.18
// tmpfs after the removals, so they are not counted.
static void midstream(int dfd, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		result("midstream open", -1);
		return;
	}
	char buf[256];
	char *seen[256];
	int nseen = 0;
	long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
	if (n <= 0) {
		result("midstream getdents64", (int)n);
		return;
	}
	for (long off = 0; off < n;) {
		struct dirent64 *e = (struct dirent64 *)(buf + off);
		seen[nseen++] = strdup(e->d_name);
		off += e->d_reclen;
	}
	char *gone[256];
	int ngone = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_type != DT_REG)
			continue;
		int was = 0;
		for (int i = 0; i < nseen; i++)
			was |= strcmp(seen[i], e->d_name) == 0;
		if (!was)
			gone[ngone++] = strdup(e->d_name);
	}
	if (d != NULL)
		closedir(d);
	for (int i = 0; i < ngone; i++)
		if (unlinkat(dfd, gone[i], 0) != 0)
			result("midstream unlinkat", -1);
	int stale = 0;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			for (int i = 0; i < ngone; i++)
				stale += strcmp(gone[i], e->d_name) == 0;
			off += e->d_reclen;
		}
	}
	if (n < 0)
		result("midstream getdents64", -1);
	printf("midstream removed-some=%d stale=%d\n", ngone > 0, stale);
	close(fd);
}

// atime reports whether listing dir after a chmod of it moves its atime:
// under relatime an atime not after the ctime is updated by the next read
// (fs/inode.c relatime_need_update).
static void atime(const char *dir)
{
	struct stat before, after;
	struct timespec pause = {0, 20 * 1000 * 1000};
	list("listed", dir);
	nanosleep(&pause, NULL); // past the coarse clock's tick
	if (chmod(dir, 0750) != 0)
		result("chmod", -1);
	if (stat(dir, &before) != 0)
		result("stat", -1);
	nanosleep(&pause, NULL);
	list("listed", dir);
	if (stat(dir, &after) != 0)
		result("stat", -1);
	printf("atime moved after chmod=%d\n",
	       after.st_atim.tv_sec != before.st_atim.tv_sec || after.st_atim.tv_nsec != before.st_atim.tv_nsec);
}

// after prints a change's result, then the listings that must show it:
// the stream opened before it, rewound; a new stream; a forked child's.
static void after(const char *what, int r, DIR *held, const char *dir)
{
	result(what, r);
	rewinddir(held);
	show("rewound", held);
	fresh_and_child(dir);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dirlist DIR\n");
		return 2;
	}
	char d[4096], o[4096], m[4096];
	snprintf(d, sizeof d, "%s/d", argv[1]);
	snprintf(o, sizeof o, "%s/o", argv[1]);
	snprintf(m, sizeof m, "%s/m", argv[1]);
	result("mkdir d", mkdir(d, 0755));
	result("mkdir o", mkdir(o, 0755));
	result("mkdir m", mkdir(m, 0755));
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	int ofd = open(o, O_RDONLY | O_DIRECTORY);
	int mfd = open(m, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || ofd < 0 || mfd < 0) {
		perror("open");
		return 1;
	}
	result("create a", touch(dfd, "a"));
	result("create b", touch(dfd, "b"));
	result("mkdir sub", mkdirat(dfd, "sub", 0755));
	result("create o/in", touch(ofd, "in"));

	DIR *held = opendir(d);
	if (held == NULL) {
		perror("opendir");
		return 1;
	}
	show("held", held);
	fresh_and_child(d);
	// Every listing above was cached by the kernel through FUSE; each
	// change below comes through the lane, not the kernel.
	after("create c", touch(dfd, "c"), held, d);
	after("unlink a", unlinkat(dfd, "a", 0), held, d);
	after("rename o/in in", renameat(ofd, "in", dfd, "in"), held, d);
	after("rename b out", renameat(dfd, "b", ofd, "b"), held, d);
	after("rename c c2", renameat(dfd, "c", dfd, "c2"), held, d);
	after("mkdir new", mkdirat(dfd, "new", 0755), held, d);
	after("rmdir sub", unlinkat(dfd, "sub", AT_REMOVEDIR), held, d);
	after("rename o/b over in", renameat(ofd, "b", dfd, "in"), held, d);
	closedir(held);
	list("o", o);

	for (int i = 0; i < 60; i++) {
		char name[16];
		snprintf(name, sizeof name, "f%02d", i);
		if (touch(mfd, name) != 0)
			result("create f", -1);
	}
	list("m", m); // cached
	midstream(mfd, m);
	list("m", m);

	atime(d);
	return 0;
}
