// flclosefrom closes every descriptor above stderr the ways daemons and
// spawners do (closefrom(3), or close_range(3, ~0U, 0), as its second
// argument says) while it holds a file under the directory given as its
// first argument, then keeps working there: mkdir, creating, writing and
// reading files. It prints one line per step (results, errno names, no
// descriptor numbers). The fast lane's tests compare its transcript under
// 'btfuse run' with the same program's in a kernel tmpfs, and count that
// the calls after the close still reach the channel.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static void out(const char *what, long r)
{
	printf("%-34s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

static long used_inodes(void)
{
	struct statfs s;
	return statfs(".", &s) == 0 ? (long)(s.f_files - s.f_ffree) : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || chdir(argv[1]) != 0 || (strcmp(argv[2], "closefrom") && strcmp(argv[2], "close_range"))) {
		fprintf(stderr, "usage: flclosefrom DIR closefrom|close_range\n");
		return 2;
	}
	umask(022);
	T("mkdir before", mkdir("before", 0755));
	long base = used_inodes();
	// A file held open and unlinked: only its descriptor keeps it.
	int held = open("held", O_CREAT | O_RDWR, 0644);
	T("write held", write(held, "x", 1));
	T("unlink held", unlink("held"));
	int other = open("kept", O_CREAT | O_WRONLY, 0644);
	T("open kept", other >= 0);
	printf("%-34s %ld\n", "inodes held before", used_inodes() - base);
	if (strcmp(argv[2], "closefrom") == 0)
		closefrom(3);
	else
		T("close_range(3, ~0U)", close_range(3, ~0U, 0));
	struct stat s;
	T("fstat held after", fstat(held, &s));
	T("write kept after", write(other, "y", 1));
	// Everything after the close, through the mount.
	for (int i = 0; i < 10; i++) {
		char name[32];
		snprintf(name, sizeof name, "d%d", i);
		T("mkdir", mkdir(name, 0755));
		snprintf(name, sizeof name, "d%d/f", i);
		int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		T("open O_CREAT", fd >= 0);
		T("write", write(fd, "hello", 5));
		T("close", close(fd));
		fd = open(name, O_RDONLY);
		char b[8] = {0};
		T("read", read(fd, b, sizeof b));
		printf("%-34s %s\n", "read back", b);
		T("fstat", fstat(fd, &s) == 0 ? s.st_size : -1);
		T("close", close(fd));
		T("stat", stat(name, &s) == 0 ? s.st_size : -1);
		T("unlink", unlink(name));
	}
	// The unlinked file's inode is freed with its last descriptor. (The
	// channel tells the daemon with its next request, so this is counted
	// after some.)
	printf("%-34s %ld\n", "inodes held after (10 dirs, kept)", used_inodes() - base);
	return 0;
}
