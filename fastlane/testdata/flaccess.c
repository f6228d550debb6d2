// flaccess checks access(2) with W_OK, and the stat family and access of
// the directory given as its first argument itself (for the fast lane's
// tests, the root of the mount), the ways programs ask them: absolute,
// with a trailing slash or "/.", through "sub/..", relative from inside,
// and faccessat with AT_EACCESS and AT_SYMLINK_NOFOLLOW, on files whose
// modes grant writing to everyone or not, a symlink, directories, and a
// program that is being executed (access(2) checks no ETXTBSY). It prints
// one line per step (results, errno names, types and modes; no device or
// inode numbers). With a count N as its second argument it then makes N
// access(W_OK) calls of "f" and N stats of the directory, for the tests
// to count who answered them.
//
//   flaccess w N PATH   N access(PATH, W_OK), then one line "W_OK r errno count" per answer

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void out(const char *what, const char *path, long r)
{
	printf("%-14s %-22s %ld %s\n", what, path, r, r < 0 ? strerrorname_np(errno) : "");
	errno = 0;
}

static void st(const char *path)
{
	struct stat s;
	if (stat(path, &s) != 0) {
		out("stat", path, -1);
		return;
	}
	printf("%-14s %-22s type=%o mode=%o nlink=%ld uid=%u gid=%u\n", "stat", path, s.st_mode & S_IFMT,
	       s.st_mode & 07777, (long)s.st_nlink, s.st_uid, s.st_gid);
}

static void modes(const char *path)
{
	out("access F_OK", path, access(path, F_OK));
	out("access R_OK", path, access(path, R_OK));
	out("access W_OK", path, access(path, W_OK));
	out("access X_OK", path, access(path, X_OK));
	out("access RWX", path, access(path, R_OK | W_OK | X_OK));
	out("eaccess W_OK", path, faccessat(AT_FDCWD, path, W_OK, AT_EACCESS));
	out("nofollow W_OK", path, faccessat(AT_FDCWD, path, W_OK, AT_SYMLINK_NOFOLLOW));
}

static int mkfile(const char *name, mode_t mode)
{
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "data", 4) != 4 || close(fd) != 0 || chmod(name, mode) != 0) {
		perror(name);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "pause") == 0) {
		pause();
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "w") == 0) {
		long k = atol(argv[2]), zero = 0, rofs = 0, other = 0;
		for (long i = 0; i < k; i++) {
			int r = access(argv[3], W_OK);
			zero += r == 0;
			rofs += r < 0 && errno == EROFS;
			other += r < 0 && errno != EROFS;
		}
		printf("W_OK ok=%ld erofs=%ld other=%ld\n", zero, rofs, other);
		return 0;
	}
	if (argc < 2 || argc > 3 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: flaccess DIR [N]\n");
		return 2;
	}
	const char *dir = argv[1];
	umask(0);
	if (mkdir("sub", 0755) != 0 || mkdir("open", 0777) != 0 || mkdir("closed", 0755) != 0 ||
	    mkfile("f", 0666) || mkfile("g", 0644) || mkfile("h", 0444) || mkfile("x", 0777) ||
	    symlink("f", "l") != 0 || symlink("h", "lh") != 0) {
		perror("setup");
		return 1;
	}
	// The directory itself, with modes that grant writing to all and not.
	char slash[4200], dot[4200], up[4200];
	snprintf(slash, sizeof slash, "%s/", dir);
	snprintf(dot, sizeof dot, "%s/.", dir);
	snprintf(up, sizeof up, "%s/sub/..", dir);
	const char *roots[] = {dir, slash, dot, up, ".", "sub/.."};
	const mode_t rootmodes[] = {0777, 0755, 0700};
	for (unsigned m = 0; m < sizeof rootmodes / sizeof *rootmodes; m++) {
		out("chmod dir", "", chmod(dir, rootmodes[m]));
		for (unsigned i = 0; i < sizeof roots / sizeof *roots; i++) {
			const char *p = roots[i];
			// Print the absolute forms by their shape only.
			const char *name = p == dir ? "DIR" : p == slash ? "DIR/" : p == dot ? "DIR/." : p == up ? "DIR/sub/.." : p;
			struct stat s;
			int r = stat(p, &s);
			printf("%-14s %-22s %d type=%o mode=%o nlink=%ld\n", "stat dir", name, r, r ? 0 : s.st_mode & S_IFMT,
			       r ? 0 : s.st_mode & 07777, r ? 0L : (long)s.st_nlink);
			printf("%-14s %-22s F=%d R=%d W=%d X=%d\n", "access dir", name, access(p, F_OK), access(p, R_OK),
			       access(p, W_OK), access(p, X_OK));
		}
	}
	out("chmod dir", "", chmod(dir, 0755));
	// Files and directories that grant writing to everyone, and not.
	const char *paths[] = {"f", "g", "h", "x", "l", "lh", "open", "closed", "sub", "missing", "f/", "open/."};
	for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) {
		st(paths[i]);
		modes(paths[i]);
	}
	// A program being executed: writing it would be ETXTBSY, access is 0.
	int p[2];
	if (mkfile("exe", 0777) || pipe2(p, O_CLOEXEC) != 0) {
		perror("exe");
		return 1;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		perror("readlink");
		return 1;
	}
	self[n] = 0;
	{
		int from = open(self, O_RDONLY), to = open("exe", O_WRONLY | O_TRUNC);
		char b[65536];
		ssize_t k;
		while ((k = read(from, b, sizeof b)) > 0)
			if (write(to, b, (size_t)k) != k)
				return 1;
		close(from);
		close(to);
	}
	pid_t child = fork();
	if (child == 0) {
		execl("./exe", "exe", "pause", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char c;
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		; // EOF: the child has exec'd (the pipe was close-on-exec)
	out("access W_OK", "exe (running)", access("exe", W_OK));
	out("access X_OK", "exe (running)", access("exe", X_OK));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (argc == 3) {
		long k = atol(argv[2]), ok = 0;
		for (long i = 0; i < k; i++) {
			struct stat s;
			ok += access("f", W_OK) == 0;
			ok += stat(dir, &s) == 0;
		}
		printf("loop ok=%ld\n", ok);
	}
	return 0;
}
