// flfds copies and closes descriptors of files under a directory given
// as its argument the ways programs do behind open(2) and close(2): dup,
// dup2, dup3, fcntl F_DUPFD, close_range, fopen/fclose, freopen, a vfork
// child's close, dup2 onto numbers the program did not open, and an
// O_CREAT open with the descriptor table full. It
// prints one line per step: results, errnos and whether fstat of the
// descriptor names the same file as stat of its path (device and inode).
// The fast lane's tests compare its transcript under 'btfuse run' with the
// same program's in a kernel tmpfs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static void out(const char *what, long r)
{
	printf("%-34s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}
#define T(what, expr) out(what, (long)(expr))

// same reports whether fd is the file at path: fstat's device and inode
// against stat's, and the link count and size fstat sees.
static void same(const char *what, int fd, const char *path)
{
	struct stat a, b;
	int ra = fstat(fd, &a);
	int rb = path ? stat(path, &b) : -1;
	if (ra != 0) {
		out(what, -1);
		return;
	}
	printf("%-34s same=%d nlink=%ld size=%ld\n", what, rb == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino,
	       (long)a.st_nlink, (long)a.st_size);
}

// samedev: for an unlinked file, only the device can be compared.
static void samedev(const char *what, int fd)
{
	struct stat a, b;
	if (fstat(fd, &a) != 0 || stat(".", &b) != 0) {
		out(what, -1);
		return;
	}
	printf("%-34s samedev=%d nlink=%ld size=%ld\n", what, a.st_dev == b.st_dev, (long)a.st_nlink, (long)a.st_size);
}

static long used_inodes(void)
{
	struct statfs s;
	return statfs(".", &s) == 0 ? (long)(s.f_files - s.f_ffree) : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: flfds DIR\n");
		return 2;
	}
	umask(022);
	// dup, dup2, dup3 and F_DUPFD of a file: the duplicates are the file.
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	T("write f", write(fd, "hello", 5));
	int d1 = dup(fd);
	same("dup", d1, "f");
	int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 20);
	T("F_DUPFD_CLOEXEC at or past 20", d2 >= 20);
	same("F_DUPFD_CLOEXEC", d2, "f");
	T("cloexec of it", fcntl(d2, F_GETFD));
	int d3 = fcntl(fd, F_DUPFD, 0);
	same("F_DUPFD", d3, "f");
	T("dup2 onto 30", dup2(fd, 30));
	same("dup2", 30, "f");
	T("dup3 onto 31", dup3(fd, 31, O_CLOEXEC));
	same("dup3", 31, "f");
	T("dup2 onto itself", dup2(30, 30));
	T("dup3 onto itself", dup3(30, 30, 0));
	T("dup bad", dup(-1));
	T("dup2 bad", dup2(-1, 40));
	// Closing the original and some duplicates: the rest still are the
	// file, unlinked too, with what was written through them.
	T("close f", close(fd));
	T("write via dup", write(d1, "12345", 5));
	same("dup after close of original", d1, "f");
	T("unlink f", unlink("f"));
	T("close dup", close(d1));
	samedev("F_DUPFD of unlinked", d2);
	T("close F_DUPFD_CLOEXEC", close(d2));
	T("close F_DUPFD", close(d3));
	samedev("dup2 of unlinked", 30);
	T("close dup2", close(30));
	samedev("dup3 of unlinked, last", 31);
	T("close dup3", close(31));
	// dup2 onto a descriptor the library opened: it is the other file now.
	int g = open("g", O_CREAT | O_RDWR, 0600);
	int h = open("h", O_CREAT | O_RDWR, 0600);
	T("write h", write(h, "hh", 2));
	T("dup2 h onto g", dup2(h, g) == g);
	same("g is h", g, "h");
	T("close h", close(h));
	same("g still h", g, "h");
	T("close g", close(g));
	// close_range of opened files.
	int r1 = open("r1", O_CREAT | O_RDWR, 0600);
	int r2 = open("r2", O_CREAT | O_RDWR, 0600);
	// (One at a time: a range from r1 to r2 could hold other descriptors,
	// the library's own among them.)
	T("close_range", close_range(r1, r1, 0));
	T("close_range cloexec", close_range(r2, r2, CLOSE_RANGE_CLOEXEC));
	T("close_range again", close_range(r2, r2, 0));
	T("fstat after close_range", ({ struct stat s; fstat(r1, &s); }));
	T("unlink r1", unlink("r1"));
	T("unlink r2", unlink("r2"));
	// fopen and fclose of files that are then removed: the filesystem
	// frees them (nothing keeps them open).
	long before = used_inodes();
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof name, "s%d", i);
		FILE *f = fopen(name, "w");
		if (!f) {
			out("fopen", -1);
			break;
		}
		fputs("data", f);
		fclose(f);
		unlink(name);
	}
	// (A call the channel answers first: it hands over the releases
	// that the closes queued.)
	mkdir("sync", 0700);
	rmdir("sync");
	printf("%-34s %ld\n", "inodes held after fclose+unlink", used_inodes() - before);
	// freopen onto a file under the directory: the stream's descriptor
	// keeps its number and is the new file.
	{
		FILE *f = fopen("a", "w");
		int n = fileno(f);
		fputs("first", f);
		FILE *r = freopen("b", "w", f);
		T("freopen", r == f ? 0 : -1);
		T("same descriptor number", fileno(f) == n);
		fputs("second", f);
		fflush(f);
		same("freopen b", fileno(f), "b");
		r = freopen("a", "r", f);
		T("freopen a r", r == f ? 0 : -1);
		char buf[32] = "";
		T("read a", fgets(buf, sizeof buf, f) != NULL);
		printf("  -> %s\n", buf);
		same("freopen a", fileno(f), "a");
		r = freopen("b", "ax", f);
		T("freopen b ax exists", r ? 0 : -1);
		f = fopen("c", "w");
		r = freopen("c2", "wx", f);
		T("freopen c2 wx", r == f ? 0 : -1);
		same("freopen c2", fileno(f), "c2");
		fclose(f);
		f = fopen("a", "r");
		r = freopen("missing/x", "r", f);
		T("freopen missing", r ? 0 : -1);
		unlink("a"), unlink("b"), unlink("c"), unlink("c2");
	}
	// A vfork child's close does not take the parent's descriptor away.
	{
		int v = open("v", O_CREAT | O_RDWR, 0600);
		pid_t pid = vfork();
		if (pid == 0) {
			close(v);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		same("parent's after vfork child closed", v, "v");
		close(v);
		unlink("v");
	}
	// A socket of the program's put at the numbers of sockets it did not
	// open (the library's, if any: natively there are none) receives
	// nothing but what the program sends.
	{
		int theirs[16], n = 0;
		for (int fd = 3; fd < 256 && n < 16; fd++) {
			char l[64], t[64];
			snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
			ssize_t k = readlink(l, t, sizeof t - 1);
			if (k > 0 && (t[k] = 0, strncmp(t, "socket:", 7) == 0))
				theirs[n++] = fd;
		}
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		for (int i = 0; i < n; i++)
			dup2(sv[0], theirs[i]);
		struct stat s;
		long ok = 0;
		for (int i = 0; i < 100; i++) {
			ok += stat(".", &s) == 0;
			usleep(1000); // long enough for the daemon's worker to sleep
		}
		char buf[64];
		ssize_t got = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
		printf("%-34s %zd stats ok %ld\n", "bytes nobody sent", got < 0 ? 0 : got, ok);
		for (int i = 0; i < n; i++)
			close(theirs[i]);
		close(sv[0]), close(sv[1]);
	}
	// O_CREAT with the descriptor table full: EMFILE, and no file.
	{
		struct rlimit old, lim;
		getrlimit(RLIMIT_NOFILE, &old);
		lim = old;
		lim.rlim_cur = 64;
		setrlimit(RLIMIT_NOFILE, &lim);
		int fds[64], n = 0;
		while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
			n++;
		errno = 0;
		T("open O_CREAT with the table full", open("full", O_CREAT | O_WRONLY, 0600));
		T("open O_TRUNC with the table full", open("t", O_TRUNC | O_WRONLY));
		T("fopen w with the table full", fopen("full2", "w") ? 0 : -1);
		while (n > 0)
			close(fds[--n]);
		setrlimit(RLIMIT_NOFILE, &old);
		struct stat s;
		T("stat full", stat("full", &s));
		T("stat full2", stat("full2", &s));
	}
	return 0;
}
