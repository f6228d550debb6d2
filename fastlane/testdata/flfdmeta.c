// flfdmeta changes and reads a file's metadata through descriptors, in a
// directory given as its argument: fchmod, fchown, fchownat and statx with
// AT_EMPTY_PATH, the f*xattr calls (with their size rules and errors, a
// value larger than a page, a bad name pointer), fstatfs, through a
// duplicate and on an unlinked file, through the copies a fork child and a
// vfork child inherit and a dup2 to a low number, and then looks at the
// file by its path. It prints one line per step. The fast lane's tests compare its
// transcript under 'btfuse run' with the same program's in a kernel tmpfs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

// ok prints a descriptor as 0: its number depends on the library's own.
static long ok(long fd)
{
	return fd >= 0 ? 0 : fd;
}

static void out(const char *what, long r)
{
	printf("%-34s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

// bypath prints the mode and owner stat(2) sees at path, and fstat's of fd.
static void bypath(const char *what, int fd, const char *path)
{
	struct stat a, b;
	if (stat(path, &a) != 0 || fstat(fd, &b) != 0) {
		out(what, -1);
		return;
	}
	printf("%-34s mode=%04o uid=%d gid=%d fstat mode=%04o uid=%d gid=%d same=%d\n", what, a.st_mode & 07777,
	       (int)a.st_uid, (int)a.st_gid, b.st_mode & 07777, (int)b.st_uid, (int)b.st_gid,
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

// value prints the value getxattr(2) by path and fgetxattr(fd) return.
static void value(const char *what, int fd, const char *path, const char *name)
{
	char a[64] = "", b[64] = "";
	long ra = getxattr(path, name, a, sizeof a - 1);
	int ea = errno;
	long rb = fgetxattr(fd, name, b, sizeof b - 1);
	int eb = errno;
	printf("%-34s path %ld %s %s fd %ld %s %s\n", what, ra, ra < 0 ? strerrorname_np(ea) : "", ra > 0 ? a : "",
	       rb, rb < 0 ? strerrorname_np(eb) : "", rb > 0 ? b : "");
	errno = 0;
}

// pathmode prints the mode and owner stat(2) sees at path.
static void pathmode(const char *what, const char *path)
{
	struct stat a;
	if (stat(path, &a) != 0) {
		out(what, -1);
		return;
	}
	printf("%-34s mode=%04o uid=%d gid=%d\n", what, a.st_mode & 07777, (int)a.st_uid, (int)a.st_gid);
}

// waited prints how the child pid ended: its exit status, or -1.
static void waited(const char *what, pid_t pid)
{
	int st;
	T(what, pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

// list prints flistxattr's names, sorted: tmpfs lists them in the order
// they were set, the FUSE mount in btfuse's (by name).
static void list(const char *what, int fd)
{
	char buf[256];
	long n = flistxattr(fd, buf, sizeof buf);
	if (n < 0) {
		out(what, n);
		return;
	}
	char *names[16];
	int k = 0;
	for (long i = 0; i < n && k < 16; i += (long)strlen(buf + i) + 1)
		names[k++] = buf + i;
	qsort(names, k, sizeof names[0], cmp);
	printf("%-34s %ld", what, n);
	for (int i = 0; i < k; i++)
		printf(" %s", names[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	// nodup: skip the duplicate and unlinked-file steps (the seccomp
	// lane serves its reserved descriptor range only, and a dup leaves it).
	int nodup = argc == 3 && !strcmp(argv[2], "nodup");
	if ((argc != 2 && !nodup) || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: flfdmeta DIR [nodup]\n");
		return 2;
	}
	int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0600);
	T("open f", ok(fd));
	T("write", write(fd, "data\n", 5));
	bypath("created", fd, "f");

	T("fchmod 0644", fchmod(fd, 0644));
	bypath("after fchmod", fd, "f");
	T("fchmod 04751", fchmod(fd, 04751));
	bypath("after fchmod 04751", fd, "f");
	T("fchown 1000:1000", fchown(fd, 1000, 1000));
	bypath("after fchown (setuid dropped)", fd, "f");
	T("fchown -1:2000", fchown(fd, -1, 2000));
	bypath("after fchown -1:2000", fd, "f");
	T("fchownat '' AT_EMPTY_PATH 0:0", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
	bypath("after fchownat", fd, "f");
	T("fchownat '' bad flags", fchownat(fd, "", 0, 0, 0x4000000));
	T("fchmod 0640", fchmod(fd, 0640));

	struct statx sx;
	struct stat sb;
	T("statx '' AT_EMPTY_PATH", statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
	T("stat f", stat("f", &sb));
	printf("%-34s mode=%04o uid=%d size=%lld same=%d\n", "statx of fd", sx.stx_mode & 07777, (int)sx.stx_uid,
	       (long long)sx.stx_size, sx.stx_ino == sb.st_ino && (dev_t)makedev(sx.stx_dev_major, sx.stx_dev_minor) == sb.st_dev);
	T("statx '' bad mask", statx(fd, "", AT_EMPTY_PATH, 0x80000000u, &sx));

	// Extended attributes.
	value("no xattr yet", fd, "f", "user.k");
	T("fsetxattr user.k", fsetxattr(fd, "user.k", "v1", 2, 0));
	value("after fsetxattr", fd, "f", "user.k");
	T("fsetxattr CREATE existing", fsetxattr(fd, "user.k", "v2", 2, XATTR_CREATE));
	T("fsetxattr REPLACE missing", fsetxattr(fd, "user.none", "v2", 2, XATTR_REPLACE));
	T("fsetxattr REPLACE", fsetxattr(fd, "user.k", "v22", 3, XATTR_REPLACE));
	T("fsetxattr bad flags", fsetxattr(fd, "user.k", "v", 1, 4));
	T("fsetxattr empty name", fsetxattr(fd, "", "v", 1, 0));
	T("fsetxattr NULL name", fsetxattr(fd, (const char *)(uintptr_t)0, "v", 1, 0));
	static char huge[65537];
	T("fsetxattr too big", fsetxattr(fd, "user.big", huge, sizeof huge, 0));
	char big[20000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	T("fsetxattr 20000 bytes", fsetxattr(fd, "user.big", big, sizeof big, 0));
	char back[20000];
	long n = fgetxattr(fd, "user.big", back, sizeof back);
	printf("%-34s %ld equal=%d\n", "fgetxattr 20000 bytes", n, n == (long)sizeof big && !memcmp(big, back, sizeof big));
	T("getxattr 20000 bytes by path", getxattr("f", "user.big", NULL, 0));
	T("fgetxattr size 0", fgetxattr(fd, "user.k", NULL, 0));
	char small[2];
	T("fgetxattr too small", fgetxattr(fd, "user.k", small, sizeof small));
	T("fgetxattr missing", fgetxattr(fd, "user.none", small, sizeof small));
	T("fgetxattr NULL name", fgetxattr(fd, (const char *)(uintptr_t)0, small, sizeof small));
	T("flistxattr size 0", flistxattr(fd, NULL, 0));
	list("flistxattr", fd);
	char tiny[4];
	T("flistxattr too small", flistxattr(fd, tiny, sizeof tiny));
	T("fremovexattr user.big", fremovexattr(fd, "user.big"));
	T("fremovexattr again", fremovexattr(fd, "user.big"));
	list("flistxattr after remove", fd);
	value("by path and fd", fd, "f", "user.k");
	T("setxattr by path", setxattr("f", "user.p", "pp", 2, 0));
	value("set by path, read by fd", fd, "f", "user.p");

	// fstatfs names the filesystem statfs of the path does.
	struct statfs a, b;
	T("fstatfs", fstatfs(fd, &a));
	T("statfs f", statfs("f", &b));
	printf("%-34s type=%d bsize=%d namelen=%d fsid=%d files=%d\n", "fstatfs = statfs", a.f_type == b.f_type,
	       a.f_bsize == b.f_bsize, a.f_namelen == b.f_namelen, !memcmp(&a.f_fsid, &b.f_fsid, sizeof a.f_fsid),
	       a.f_files == b.f_files);

	// fstatvfs (glibc converts an fstatfs it makes internally) too.
	struct statvfs va, vb;
	T("fstatvfs", fstatvfs(fd, &va));
	T("statvfs f", statvfs("f", &vb));
	printf("%-34s same=%d\n", "fstatvfs = statvfs", !memcmp(&va, &vb, sizeof va));
	T("fstatvfs bad fd", fstatvfs(1000, &va));

	if (nodup) {
		T("close", close(fd));
		goto others;
	}
	// Through a duplicate, after the original is closed.
	int d = dup(fd);
	T("dup", ok(d));
	T("close original", close(fd));
	T("fchmod dup 0600", fchmod(d, 0600));
	T("fsetxattr dup", fsetxattr(d, "user.d", "dd", 2, 0));
	bypath("after fchmod of the dup", d, "f");
	value("xattr set through the dup", d, "f", "user.d");

	// A read-only descriptor: the access mode does not matter.
	int r = open("f", O_RDONLY);
	T("open f read-only", ok(r));
	T("fchmod read-only 0604", fchmod(r, 0604));
	bypath("after fchmod read-only", r, "f");
	T("close read-only", close(r));

	// On an unlinked file, fstat shows what was set.
	T("unlink f", unlink("f"));
	T("fchmod unlinked 0444", fchmod(d, 0444));
	T("fstat unlinked", fstat(d, &sb));
	printf("%-34s mode=%04o nlink=%ld\n", "unlinked", sb.st_mode & 07777, (long)sb.st_nlink);
	T("fsetxattr unlinked", fsetxattr(d, "user.u", "u", 1, 0));
	T("fgetxattr unlinked", fgetxattr(d, "user.u", small, sizeof small));
	T("close dup", close(d));

others:
	// Copies at other numbers and in other processes change the file
	// too: a fork child's and a vfork child's inherited descriptor (the
	// fast lane's library does not use its table there), and a dup2 to a
	// low number (outside the seccomp lane's reserved range). Looked at
	// by path only: fstat of such a copy is a known limit (README).
	int c = open("c", O_CREAT | O_RDWR | O_TRUNC, 0600);
	T("open c", ok(c));
	pid_t pid = fork();
	if (pid == 0)
		_exit(fchmod(c, 0640) || fchown(c, 1000, 1000) || fsetxattr(c, "user.f", "ff", 2, 0) ? errno : 0);
	waited("fork child's fchmod, fchown, fsetxattr", pid);
	pathmode("after the fork child", "c");
	value("fork child's xattr", c, "c", "user.f");
	pid = vfork();
	if (pid == 0)
		_exit(fchmod(c, 0604) || fchown(c, 2000, 2000) || fremovexattr(c, "user.f") ? errno : 0);
	waited("vfork child's fchmod, fchown, fremovexattr", pid);
	pathmode("after the vfork child", "c");
	value("vfork child's removed xattr", c, "c", "user.f");
	int low = dup2(c, 9);
	T("dup2 to 9", low);
	T("close c", close(c));
	T("fchmod 9", fchmod(low, 0660));
	T("fchown 9", fchown(low, 0, 0));
	T("fsetxattr 9", fsetxattr(low, "user.l", "ll", 2, 0));
	pathmode("after the copy at 9", "c");
	value("copy at 9's xattr", low, "c", "user.l");
	list("flistxattr 9", low);
	T("close 9", close(low));

	// Descriptors of other files: the kernel's answers.
	T("fchmod bad fd", fchmod(1000, 0644));
	T("fgetxattr bad fd", fgetxattr(1000, "user.k", small, sizeof small));
	T("fstatfs bad fd", fstatfs(1000, &a));
	int p[2];
	T("pipe", pipe(p));
	T("fsetxattr pipe", fsetxattr(p[0], "user.k", "v", 1, 0));
	return 0;
}
