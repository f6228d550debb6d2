// flbacking changes a regular file under the mount in every way that
// reaches its backing file without the daemon's help, and after each one
// compares the library's stat of the path (the metadata view, or the
// channel) with the backing file's own attributes, read by a raw fstat of
// a descriptor on it: the FUSE door's getattr answers size, blocks, atime
// and mtime from the backing file live, and ctime as the later of its own
// and the backing file's (fsimpl's attrLocked). For the tests of
// cmd/btfuse (viewcost_test.go), under 'btfuse run':
//
//   flbacking PATH     one line per step: "step ok" or "step MISMATCH ..."
//
// The steps: futimens on that descriptor (an atime before the mtime), a
// read (relatime then updates atime), a write through a reopen of
// /proc/self/fd/N of the read-only descriptor, fchmod on it, truncate by
// path,
// a read through mmap of a hole (tmpfs allocates its page: st_blocks
// grows), a write by a fork child through an inherited descriptor, and
// utimensat by path.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static int fd = -1; // read-only, opened through the library: a backing descriptor
static int bad;

static int ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static int ts_eq(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

static void check(const char *step)
{
	struct stat lib, back;
	if (stat(path, &lib) != 0 || syscall(SYS_fstat, fd, &back) != 0) {
		printf("%s MISMATCH stat: %s\n", step, strerror(errno));
		bad = 1;
		return;
	}
	char why[512] = "";
	if (lib.st_size != back.st_size)
		snprintf(why + strlen(why), sizeof why - strlen(why), " size %ld/%ld", (long)lib.st_size, (long)back.st_size);
	if (lib.st_blocks != back.st_blocks)
		snprintf(why + strlen(why), sizeof why - strlen(why), " blocks %ld/%ld", (long)lib.st_blocks,
			 (long)back.st_blocks);
	if (!ts_eq(lib.st_atim, back.st_atim))
		snprintf(why + strlen(why), sizeof why - strlen(why), " atime %ld.%09ld/%ld.%09ld", (long)lib.st_atim.tv_sec,
			 lib.st_atim.tv_nsec, (long)back.st_atim.tv_sec, back.st_atim.tv_nsec);
	if (!ts_eq(lib.st_mtim, back.st_mtim))
		snprintf(why + strlen(why), sizeof why - strlen(why), " mtime %ld.%09ld/%ld.%09ld", (long)lib.st_mtim.tv_sec,
			 lib.st_mtim.tv_nsec, (long)back.st_mtim.tv_sec, back.st_mtim.tv_nsec);
	if (ts_before(lib.st_ctim, back.st_ctim))
		snprintf(why + strlen(why), sizeof why - strlen(why), " ctime %ld.%09ld before %ld.%09ld",
			 (long)lib.st_ctim.tv_sec, lib.st_ctim.tv_nsec, (long)back.st_ctim.tv_sec, back.st_ctim.tv_nsec);
	if (why[0]) {
		printf("%s MISMATCH (library/backing)%s\n", step, why);
		bad = 1;
	} else {
		printf("%s ok\n", step);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	path = argv[1];
	// Enough calls under the mount for the library's handshake
	// (BTFUSE_FAST_AFTER), so that the opens below are the view's.
	for (int i = 0; i < 16; i++) {
		struct stat st;
		stat(path, &st);
	}
	int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w < 0 || write(w, "data\n", 5) != 5 || close(w) != 0)
		return 1;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	check("created");

	// An atime before the mtime: relatime updates it at the next read.
	struct timespec ts[2] = {{1000000000, 111}, {1100000000, 222}};
	if (futimens(fd, ts) != 0)
		return 1;
	check("futimens");

	char buf[64];
	if (read(fd, buf, sizeof buf) < 0)
		return 1;
	check("read");

	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	w = open(proc, O_WRONLY | O_APPEND);
	if (w < 0 || write(w, "more\n", 5) != 5 || close(w) != 0) {
		printf("reopen failed: %s\n", strerror(errno));
		return 1;
	}
	check("write through a reopen of /proc/self/fd");

	if (fchmod(fd, 0640) != 0)
		return 1;
	check("fchmod");

	if (truncate(path, 1 << 20) != 0)
		return 1;
	check("truncate");

	volatile char *m = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 1;
	char c = m[300000];
	(void)c;
	munmap((void *)m, 1 << 20);
	check("read through mmap of a hole");

	w = open(path, O_WRONLY | O_APPEND);
	if (w < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0)
		_exit(write(w, "child\n", 6) == 6 ? 0 : 1);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	close(w);
	check("write by a fork child");

	if (utimensat(AT_FDCWD, path, NULL, 0) != 0)
		return 1;
	check("utimensat");
	return bad;
}
