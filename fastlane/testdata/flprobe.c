// flprobe exercises the preload library's entry side across processes,
// threads and signals for the fast lane's tests. Every mode prints what it
// saw; the tests compare it and count the notifications 'btfuse status'
// shows, which tell whether the calls took the trampoline.
//
//   flprobe env                  LD_PRELOAD and whether the trampoline page is mapped
//   flprobe stat N PATH          stat PATH N times
//   flprobe fork N PATH          stat N times in a fork child, then in the parent
//   flprobe vfork N PATH         stat once in a vfork child, which then execs "stat N PATH"
//   flprobe vforkcred N PATH     stat N times, then stat once in a vfork child that first
//                                became uid and gid 65534 (the child's own credentials)
//   flprobe exec N PATH          exec "stat N PATH" (the library follows through the environment)
//   flprobe clearenv             exec "env" with an empty environment
//   flprobe threads N PATH       stat N times in each of 4 threads
//   flprobe signal N PATH        stat and open N times under a 20 us interval timer whose
//                                handler stats PATH too; any EINTR is an error
//   flprobe statat N PATH        fstatat(dirfd, name) N times, dirfd an O_DIRECTORY open of
//                                PATH's directory (as find walks a tree)
//   flprobe statrel N PATH       chdir to PATH's directory, then stat its name N times
//   flprobe openrel N PATH       chdir to PATH's directory, then open its name read-only and
//                                close it N times
//   flprobe statatview N PATH    statat after one stat of PATH (which makes the handshake
//                                that the metadata view needs, as find's first stat does)
//   flprobe opendir N DIR        opendir, readdir to the end and closedir, N times
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;
static long n;
static int at_fd = -1; // statat: stats are fstatat(at_fd, at_name)
static const char *at_name;

// read_self reads file (one of /proc/self's) into buf, at
// most size - 1 bytes, NUL-terminated, with syscall(2), which the library
// does not interpose, so that looking does not make the page (an
// interposed open outside the mount would). -1 when it cannot be opened.
static int read_self(const char *file, char *buf, size_t size)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		long r = syscall(SYS_read, fd, buf + len, size - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	syscall(SYS_close, fd);
	buf[len] = '\0';
	return 0;
}

// page_mapped reports whether the trampoline page is mapped, from
// /proc/self/maps (read_self).
static int page_mapped(void)
{
	static char buf[1 << 16];
	if (read_self("/proc/self/maps", buf, sizeof buf) < 0)
		return -1;
	const char *line = "7e0000000000-7e0000001000 ";
	return strncmp(buf, line, strlen(line)) == 0 || strstr(buf, "\n7e0000000000-7e0000001000 ") != NULL;
}

// wipe_pages counts the process's MADV_WIPEONFORK mappings ("wf" in
// the VmFlags of /proc/self/smaps, read_self): the library
// makes its ownership token page so, and only once it has handshaked.
static int wipe_pages(void)
{
	static char buf[1 << 18];
	if (read_self("/proc/self/smaps", buf, sizeof buf) < 0)
		return -1;
	int n = 0;
	for (const char *l = strstr(buf, "VmFlags:"); l; l = strstr(l + 1, "VmFlags:")) {
		const char *end = strchrnul(l, '\n');
		for (const char *f = l + 8; f + 2 <= end; f++)
			if (f[0] == 'w' && f[1] == 'f' && f[-1] == ' ' && (f + 2 == end || f[2] == ' '))
				n++;
	}
	return n;
}

// stats stats path n times and reports how many succeeded and the first
// errno seen.
static void stats(const char *who)
{
	struct stat st;
	long ok = 0;
	int first = 0;
	for (long i = 0; i < n; i++) {
		if ((at_fd >= 0 ? fstatat(at_fd, at_name, &st, 0) : stat(path, &st)) == 0)
			ok++;
		else if (!first)
			first = errno;
	}
	printf("%s ok=%ld errno=%s page=%d\n", who, ok, first ? strerrorname_np(first) : "0", page_mapped());
	fflush(stdout);
}

static void *thread(void *arg)
{
	(void)arg;
	stats("thread");
	return NULL;
}

static volatile sig_atomic_t handled, handler_ok;

static void on_alarm(int sig)
{
	(void)sig;
	struct stat st;
	int e = errno;
	handled++;
	if (stat(path, &st) == 0)
		handler_ok++;
	errno = e;
}

static int wait_child(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *mode = argv[1];
	if (argc >= 4) {
		n = atol(argv[2]);
		path = argv[3];
	}
	if (strcmp(mode, "env") == 0) {
		// The library maps its trampoline page at the first call
		// that goes through it (start=0), such as a stat outside the
		// mount (page=1), and its token page (wipe) only when it
		// handshakes, which this process never does.
		const char *p = getenv("LD_PRELOAD");
		int start = page_mapped();
		struct stat st;
		stat("/", &st);
		printf("preload=%s start=%d page=%d wipe=%d\n", p ? p : "", start, page_mapped(), wipe_pages());
		return 0;
	}
	if (strcmp(mode, "clearenv") == 0) {
		char *args[] = {argv[0], "env", NULL};
		char *env[] = {NULL};
		execve("/proc/self/exe", args, env);
		return 127;
	}
	if (!path)
		return 2;
	char *again[] = {argv[0], "stat", argv[2], argv[3], NULL};
	if (strcmp(mode, "stat") == 0) {
		stats("stat");
	} else if (strcmp(mode, "statat") == 0 || strcmp(mode, "statatview") == 0) {
		char dir[4096];
		const char *slash = strrchr(path, '/');
		if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
			return 2;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = 0;
		at_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		at_name = slash + 1;
		if (at_fd < 0)
			return 1;
		struct stat st;
		if (strcmp(mode, "statatview") == 0 && stat(path, &st) != 0)
			return 1;
		stats(mode);
	} else if (strcmp(mode, "statrel") == 0 || strcmp(mode, "openrel") == 0) {
		char dir[4096];
		const char *slash = strrchr(path, '/');
		if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir)
			return 2;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = 0;
		if (chdir(dir) != 0)
			return 1;
		path = slash + 1;
		if (strcmp(mode, "statrel") == 0) {
			stats("statrel");
		} else {
			long ok = 0;
			int first = 0;
			for (long i = 0; i < n; i++) {
				int fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0 && close(fd) == 0)
					ok++;
				else if (!first)
					first = errno;
			}
			printf("openrel ok=%ld errno=%s page=%d\n", ok, first ? strerrorname_np(first) : "0", page_mapped());
		}
	} else if (strcmp(mode, "opendir") == 0) {
		long ok = 0, entries = 0;
		int first = 0;
		for (long i = 0; i < n; i++) {
			DIR *d = opendir(path);
			if (!d) {
				if (!first)
					first = errno;
				continue;
			}
			while (readdir(d))
				entries++;
			closedir(d);
			ok++;
		}
		printf("opendir ok=%ld entries=%ld errno=%s page=%d\n", ok, entries / (ok ? ok : 1),
		       first ? strerrorname_np(first) : "0", page_mapped());
	} else if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			stats("child");
			_exit(0);
		}
		int code = wait_child(pid);
		stats("parent");
		return code;
	} else if (strcmp(mode, "vfork") == 0) {
		struct stat st;
		int r = -1;
		pid_t pid = vfork();
		if (pid == 0) {
			r = stat(path, &st);
			if (r != 0)
				_exit(3);
			execv("/proc/self/exe", again);
			_exit(127);
		}
		int code = wait_child(pid);
		printf("vfork child stat=%d exit=%d\n", r, code);
		stats("parent");
		return code;
	} else if (strcmp(mode, "vforkcred") == 0) {
		stats("stat");
		struct stat st;
		volatile int r = -1, err = 0; // written by the child, on this memory
		pid_t pid = vfork();
		if (pid == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			r = stat(path, &st);
			err = r == 0 ? 0 : errno;
			_exit(0);
		}
		int code = wait_child(pid);
		printf("vfork child as 65534 stat=%d errno=%d exit=%d\n", r, err, code);
		return code;
	} else if (strcmp(mode, "exec") == 0) {
		execv("/proc/self/exe", again);
		return 127;
	} else if (strcmp(mode, "threads") == 0) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, thread, NULL) != 0)
				return 1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(mode, "signal") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm; // no SA_RESTART: an EINTR would show
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, 20}, {0, 20}};
		setitimer(ITIMER_REAL, &it, NULL);
		long eintr = 0, other = 0;
		for (long i = 0; i < n; i++) {
			struct stat st;
			if (stat(path, &st) != 0)
				(*(errno == EINTR ? &eintr : &other))++;
			int fd = open(path, O_RDONLY);
			if (fd < 0)
				(*(errno == EINTR ? &eintr : &other))++;
			else
				close(fd);
		}
		struct itimerval off = {{0, 0}, {0, 0}};
		setitimer(ITIMER_REAL, &off, NULL);
		printf("signal eintr=%ld other=%ld handled=%d handler_ok=%d\n", eintr, other, handled > 0,
		       handled == handler_ok);
	} else {
		return 2;
	}
	return 0;
}
