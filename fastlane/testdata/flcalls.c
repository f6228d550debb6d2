// flcalls makes every libc function the preload library interposes, with
// arguments that succeed and arguments that fail, in a fresh directory
// given as its argument, and prints one line per call: the result and
// errno. The fast lane's differential tests run it with the library and
// without, outside the mount and under it, and compare the transcripts:
// the library must return and set errno exactly as libc does.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

int __xstat(int, const char *, struct stat *);
int __lxstat(int, const char *, struct stat *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __fxstat(int, int, struct stat *);
int __open_2(const char *, int);
int __openat_2(int, const char *, int);
ssize_t __readlink_chk(const char *, char *, size_t, size_t);

static void out(const char *what, long r)
{
	printf("%-28s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

static void st(const char *what, int r, const struct stat *s)
{
	if (r == 0)
		printf("%-28s 0 mode=%o size=%ld nlink=%ld uid=%d\n", what, s->st_mode, (long)s->st_size, (long)s->st_nlink,
		       s->st_uid);
	else
		out(what, r);
}

static void fdclose(const char *what, int fd)
{
	out(what, fd < 0 ? fd : 0);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: flcalls DIR\n");
		return 2;
	}
	umask(022);
	struct stat s;
	char buf[256];
	const char *volatile null = NULL; // past the headers' nonnull

	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	// Opens.
	fdclose("open missing", open("missing", O_RDONLY));
	fdclose("open creat", open("f", O_CREAT | O_WRONLY, 0640));
	fdclose("open excl", open("f", O_CREAT | O_EXCL | O_WRONLY, 0600));
	fdclose("open64", open64("f", O_RDWR));
	fdclose("openat", openat(dfd, "f", O_RDONLY));
	fdclose("openat64 creat", openat64(AT_FDCWD, "g", O_CREAT | O_RDWR, 0600));
	fdclose("openat dir as file", openat(AT_FDCWD, ".", O_WRONLY));
	fdclose("__open_2", __open_2("f", O_RDONLY));
	fdclose("__openat_2", __openat_2(dfd, "f", O_RDONLY));
	fdclose("creat", creat("h", 0644));
	fdclose("open notdir", open("f/x", O_RDONLY));
	fdclose("open directory flag", open("f", O_RDONLY | O_DIRECTORY));
	T("write f", ({ int fd = open("f", O_WRONLY); long n = write(fd, "hello\n", 6); close(fd); n; }));
	// Stat family.
	st("stat", stat("f", &s), &s);
	st("stat missing", stat("missing", &s), &s);
	st("stat64", stat64("f", (struct stat64 *)&s), &s);
	st("lstat", lstat("f", &s), &s);
	st("fstatat", fstatat(dfd, "f", &s, 0), &s);
	st("fstatat64", fstatat64(AT_FDCWD, "f", (struct stat64 *)&s, AT_SYMLINK_NOFOLLOW), &s);
	st("fstatat empty path", fstatat(AT_FDCWD, "", &s, 0), &s);
	st("fstatat bad flags", fstatat(AT_FDCWD, "f", &s, 0x40000000), &s);
	st("__xstat", __xstat(1, "f", &s), &s);
	st("__xstat bad version", __xstat(7, "f", &s), &s);
	st("__lxstat", __lxstat(1, "f", &s), &s);
	st("__fxstatat", __fxstatat(1, dfd, "f", &s, 0), &s);
	T("stat null", stat(null, &s));
	{
		int fd = open("f", O_RDONLY);
		st("fstat", fstat(fd, &s), &s);
		st("__fxstat", __fxstat(1, fd, &s), &s);
		close(fd);
		st("fstat closed", fstat(fd, &s), &s);
	}
	{
		struct statx x;
		int r = statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &x);
		printf("%-28s %d size=%lld mode=%o\n", "statx", r, r == 0 ? (long long)x.stx_size : -1LL,
		       r == 0 ? x.stx_mode : 0);
		T("statx missing", statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &x));
		T("statx bad flags", statx(AT_FDCWD, "f", 0x7000000, STATX_BASIC_STATS, &x));
	}
	// Access.
	T("access", access("f", R_OK));
	T("access missing", access("missing", F_OK));
	T("access bad mode", access("f", 0100));
	T("faccessat", faccessat(dfd, "f", W_OK, 0));
	T("faccessat eaccess", faccessat(AT_FDCWD, "f", R_OK, AT_EACCESS));
	T("faccessat nofollow", faccessat(AT_FDCWD, "f", R_OK, AT_SYMLINK_NOFOLLOW));
	T("faccessat bad flags", faccessat(AT_FDCWD, "f", R_OK, 0x1));
	T("euidaccess", euidaccess("f", R_OK));
	T("eaccess missing", eaccess("missing", R_OK));
	// Links.
	T("symlink", symlink("f", "l"));
	T("symlink exists", symlink("f", "l"));
	T("symlinkat", symlinkat("/nowhere", dfd, "l2"));
	memset(buf, 0, sizeof buf);
	T("readlink", readlink("l", buf, sizeof buf));
	printf("  -> %s\n", buf);
	T("readlink short", readlink("l2", buf, 3));
	T("readlink notlink", readlink("f", buf, sizeof buf));
	T("readlinkat", readlinkat(dfd, "l", buf, sizeof buf));
	T("__readlink_chk", __readlink_chk("l", buf, 10, sizeof buf));
	st("stat via symlink", stat("l", &s), &s);
	st("lstat symlink", lstat("l", &s), &s);
	st("stat dangling", stat("l2", &s), &s);
	T("link", link("f", "f2"));
	T("link exists", link("f", "f2"));
	T("linkat", linkat(dfd, "f", AT_FDCWD, "f3", 0));
	T("linkat follow", linkat(AT_FDCWD, "l", AT_FDCWD, "f4", AT_SYMLINK_FOLLOW));
	st("nlink", stat("f", &s), &s);
	// Directories and names.
	T("mkdir", mkdir("d", 0750));
	T("mkdir exists", mkdir("d", 0750));
	T("mkdirat", mkdirat(dfd, "d/e", 0700));
	T("mkdir missing parent", mkdir("x/y", 0700));
	st("stat dir", stat("d", &s), &s);
	T("mkfifo", mkfifo("p", 0644));
	T("mkfifoat", mkfifoat(dfd, "p2", 0600));
	T("mknod", mknod("n", S_IFREG | 0600, 0));
	T("mknodat exists", mknodat(dfd, "n", S_IFREG | 0600, 0));
	st("stat fifo", stat("p", &s), &s);
	T("unlink", unlink("f2"));
	T("unlink missing", unlink("f2"));
	T("unlink dir", unlink("d"));
	T("rmdir notempty", rmdir("d"));
	T("rmdir file", rmdir("f3"));
	T("unlinkat dir", unlinkat(dfd, "d/e", AT_REMOVEDIR));
	T("unlinkat bad flags", unlinkat(dfd, "f3", 0x4));
	T("rename", rename("f3", "f5"));
	T("rename missing", rename("f3", "f6"));
	T("rename file over dir", rename("f5", "d"));
	T("renameat", renameat(dfd, "f5", AT_FDCWD, "f6"));
	T("renameat2 noreplace", renameat2(AT_FDCWD, "f6", AT_FDCWD, "f", RENAME_NOREPLACE));
	T("renameat2 exchange", renameat2(dfd, "f6", dfd, "f4", RENAME_EXCHANGE));
	// Attributes.
	T("chmod", chmod("f", 0600));
	T("chmod missing", chmod("missing", 0600));
	T("fchmodat", fchmodat(dfd, "f", 0640, 0));
	T("fchmodat nofollow", fchmodat(dfd, "l", 0640, AT_SYMLINK_NOFOLLOW));
	T("fchmodat bad flags", fchmodat(dfd, "f", 0640, 0x2));
	T("chown", chown("f", 0, 0));
	T("chown missing", chown("missing", 0, 0));
	T("lchown", lchown("l", 0, 0));
	T("fchownat", fchownat(dfd, "f", -1, -1, 0));
	T("fchownat bad flags", fchownat(dfd, "f", -1, -1, 0x2));
	T("truncate", truncate("f", 3));
	T("truncate64", truncate64("f", 100));
	T("truncate dir", truncate("d", 0));
	T("truncate negative", truncate("f", -1));
	st("size", stat("f", &s), &s);
	{
		struct timespec ts[2] = {{1000, 5}, {2000, 7}};
		struct timeval tv[2] = {{3000, 1}, {4000, 2}};
		struct timeval badtv[2] = {{3000, 2000000}, {4000, 2}};
		struct utimbuf ub = {5000, 6000};
		T("utimensat", utimensat(dfd, "f", ts, 0));
		T("utimensat null path", utimensat(dfd, null, ts, 0));
		T("utimensat nofollow", utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
		T("utimensat missing", utimensat(AT_FDCWD, "missing", NULL, 0));
		st("after utimensat", stat("f", &s), &s);
		printf("  mtime %ld.%09ld\n", (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
		T("utimes", utimes("f", tv));
		stat("f", &s);
		printf("  mtime %ld.%09ld\n", (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
		T("utimes bad usec", utimes("f", badtv));
		T("utime", utime("f", &ub));
		T("lutimes", lutimes("l", tv));
		T("lutimes bad usec", lutimes("l", badtv));
		lstat("l", &s);
		printf("  link mtime %ld.%09ld\n", (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
		T("futimesat", futimesat(dfd, "f", tv));
		int tfd = open("f", O_WRONLY);
		T("futimens", futimens(tfd, ts));
		fstat(tfd, &s);
		printf("  fd mtime %ld.%09ld\n", (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
		T("futimens now", futimens(tfd, NULL));
		T("futimes", futimes(tfd, tv));
		T("futimes bad usec", futimes(tfd, badtv));
		close(tfd);
		stat("f", &s);
		printf("  mtime %ld.%09ld\n", (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
		T("futimens closed", futimens(tfd, ts));
		T("futimens bad fd", futimens(-1, ts));
	}
	// Extended attributes.
	T("setxattr", setxattr("f", "user.a", "v1", 2, 0));
	T("setxattr create exists", setxattr("f", "user.a", "v1", 2, XATTR_CREATE));
	T("lsetxattr on symlink", lsetxattr("l", "user.a", "v", 1, 0));
	T("getxattr", getxattr("f", "user.a", buf, sizeof buf));
	T("getxattr small", getxattr("f", "user.a", buf, 1));
	T("getxattr size", getxattr("f", "user.a", NULL, 0));
	T("getxattr missing", getxattr("f", "user.b", buf, sizeof buf));
	T("lgetxattr", lgetxattr("f", "user.a", buf, sizeof buf));
	T("listxattr", listxattr("f", buf, sizeof buf));
	T("llistxattr", llistxattr("f", buf, sizeof buf));
	T("removexattr", removexattr("f", "user.a"));
	T("lremovexattr missing", lremovexattr("f", "user.a"));
	{
		struct statfs sf;
		T("statfs", statfs(".", &sf));
		T("statfs missing", statfs("missing", &sf));
	}
	// Directory streams and stdio.
	{
		DIR *d = opendir("d");
		T("opendir", d ? 0 : -1);
		int n = 0;
		if (d) {
			while (readdir(d))
				n++;
			closedir(d);
		}
		printf("  entries %d\n", n);
		errno = 0;
		d = opendir("f");
		T("opendir file", d ? 0 : -1);
		d = opendir("missing");
		T("opendir missing", d ? 0 : -1);
	}
	{
		FILE *f = fopen("missing", "r");
		T("fopen missing", f ? 0 : -1);
		f = fopen("w", "w");
		T("fopen w", f ? 0 : -1);
		if (f) {
			fputs("abc", f);
			fclose(f);
		}
		f = fopen("w", "a");
		T("fopen a", f ? 0 : -1);
		if (f) {
			printf("  ftell %ld\n", ftell(f));
			fputs("def", f);
			fclose(f);
		}
		f = fopen64("w", "r+e");
		T("fopen64 r+e", f ? 0 : -1);
		if (f) {
			printf("  read %s cloexec %d\n", fgets(buf, sizeof buf, f), fcntl(fileno(f), F_GETFD));
			fclose(f);
		}
		f = fopen("w", "wx");
		T("fopen wx exists", f ? 0 : -1);
		f = fopen("w", "q");
		T("fopen bad mode", f ? 0 : -1);
		f = fopen("d", "w");
		T("fopen dir for write", f ? 0 : -1);
	}
	// Relative paths after chdir, and paths with dot-dot.
	T("chdir", chdir("d"));
	st("stat ../f", stat("../f", &s), &s);
	T("chdir missing", chdir("missing"));
	T("chdir ..", chdir(".."));
	st("stat d/../f", stat("d/../f", &s), &s);
	close(dfd);
	return 0;
}
