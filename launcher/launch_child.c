// The launcher child of 'btfuse run', in C because it has to run before the
// Go runtime starts. A constructor runs when the dynamic loader hands over
// to the program, before Go's own initialisation (runtime start-up and
// package inits), which the command would otherwise pay for on top of its
// parent's. The child has nothing to do that needs Go: read a BPF program
// from a socket, install it, pass the listener back, wait for a byte,
// execve.
//
// The constructor also records RLIMIT_NOFILE as the process got it. The
// Go runtime raises the soft limit to the hard one at start-up and puts the
// original back in every child it execs, so the command runs with the
// original soft limit, and the reserved descriptor range has to lie under
// that one (launch.go).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <elf.h>
#include <unistd.h>

#include "launch_child.h"

// glibc passes argc, argv and envp to the constructors of the main program
// (other C libraries pass nothing).
#ifndef __GLIBC__
#error "launch_child.c needs glibc: its constructor reads argc and argv"
#endif

extern char **environ;

unsigned long long btfuse_orig_nofile;
int btfuse_orig_nofile_ok;

// say sends the parent an error message ('E' then the text), which it
// returns from Install; the child then exits 126 without printing.
static void say(int sock, const char *what, int err)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "E%s: %s", what, strerror(err));
	if (n > (int)sizeof msg - 1)
		n = sizeof msg - 1;
	(void)!write(sock, msg, n);
}

// die prints "btfuse run: ..." on stderr and exits with code; the parent
// sees the socket close and reports the child's status as the command's.
static void die(int sock, int code, const char *fmt, ...)
{
	va_list ap;
	if (fmt) {
		fputs("btfuse run: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (sock >= 0)
		close(sock);
	_exit(code);
}

// executable reports 0 if path is a file this process may execute, or the
// errno execve would most likely give.
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) != 0)
		return errno;
	return 0;
}

// look_path finds name the way execvp does: as given when it holds a
// slash, otherwise in each directory of $PATH. A candidate that exists but
// cannot be executed is remembered, so that a command found only without
// permission is 126 (EACCES), not 127. On success the path is in buf.
static int look_path(const char *name, char *buf, size_t size)
{
	if (strchr(name, '/')) {
		if (strlen(name) >= size)
			return ENAMETOOLONG;
		strcpy(buf, name);
		return executable(buf);
	}
	if (*name == '\0')
		return ENOENT;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int seen = ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dlen = end - p;
		const char *dir = dlen ? p : ".";
		if (!dlen)
			dlen = 1;
		if (dlen + 1 + strlen(name) < size) {
			memcpy(buf, dir, dlen);
			buf[dlen] = '/';
			strcpy(buf + dlen + 1, name);
			int e = executable(buf);
			if (e == 0)
				return 0;
			if (e == EACCES)
				seen = EACCES;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	return seen;
}

// preload_ok reports whether the dynamic loader will load a preloaded
// library into path: a dynamically linked ELF (it has a PT_INTERP) that is
// not setuid, setgid or file-capable (the loader's secure mode ignores
// LD_PRELOAD paths there, and it would be no use to try). A script is
// judged by its interpreter, one level of #! deep as execve allows.
static int preload_ok(const char *path, int depth)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & (S_ISUID | S_ISGID)))
		return 0;
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int ok = 0;
	union {
		Elf64_Ehdr eh;
		char text[256];
	} u;
	ssize_t n = pread(fd, &u, sizeof u - 1, 0);
	if (n >= 2 && u.text[0] == '#' && u.text[1] == '!' && depth == 0) {
		u.text[n] = '\0';
		char *p = u.text + 2;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\n")] = '\0';
		ok = *p == '/' && preload_ok(p, depth + 1);
	} else if (n >= (ssize_t)sizeof u.eh && memcmp(u.eh.e_ident, ELFMAG, SELFMAG) == 0 &&
		   u.eh.e_ident[EI_CLASS] == ELFCLASS64 && u.eh.e_phentsize == sizeof(Elf64_Phdr)) {
		Elf64_Ehdr eh = u.eh;
		for (int i = 0; i < eh.e_phnum && i < 256; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof ph, eh.e_phoff + (off_t)i * sizeof ph) != sizeof ph)
				break;
			if (ph.p_type == PT_INTERP) {
				ok = 1;
				break;
			}
		}
	}
	close(fd);
	return ok;
}

// add_preload appends lib to LD_PRELOAD when the command qualifies
// (preload_ok); otherwise the command runs on the seccomp lane alone.
static void add_preload(int sock, const char *path, const char *lib)
{
	if (!*lib || !preload_ok(path, 0))
		return;
	const char *old = getenv("LD_PRELOAD");
	if (old) { // already there (a btfuse run under btfuse run): as it is
		size_t n = strlen(lib);
		for (const char *p = old; (p = strstr(p, lib)) != NULL; p += n)
			if ((p == old || p[-1] == ':' || p[-1] == ' ') && (p[n] == '\0' || p[n] == ':' || p[n] == ' '))
				return;
	}
	static char val[8192];
	int n = old && *old ? snprintf(val, sizeof val, "%s:%s", old, lib) : snprintf(val, sizeof val, "%s", lib);
	if (n < 0 || n >= (int)sizeof val)
		return; // too long to extend: no fast lane
	if (setenv("LD_PRELOAD", val, 1) != 0)
		die(sock, 126, "setenv LD_PRELOAD: %s", strerror(errno));
}

static void child_main(int argc, char **argv, const char *sockvar)
{
	char *rest;
	long sock = strtol(sockvar, &rest, 10);
	if (*sockvar == '\0' || *rest != '\0' || sock < 0 || sock > 1 << 20)
		die(-1, 126, "bad %s", BTFUSE_CHILD_ENV);
	// The variable may also reach a btfuse started by hand: only a
	// sequenced-packet socket is the launcher's.
	int type = 0;
	socklen_t tlen = sizeof type;
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_SEQPACKET)
		die(-1, 126, "%s=%s is not the launcher's socket", BTFUSE_CHILD_ENV, sockvar);
	unsetenv(BTFUSE_CHILD_ENV);
	int i = 1;
	while (i < argc && strcmp(argv[i], "--") != 0)
		i++;
	if (i + 1 >= argc)
		die(sock, 126, "no command");
	char **cmd = argv + i + 1;

	static char path[4096];
	int e = look_path(cmd[0], path, sizeof path);
	if (e == ENOENT || e == ENOTDIR)
		die(sock, 127, "%s: command not found", cmd[0]);
	if (e != 0)
		die(sock, 126, "%s: %s", cmd[0], strerror(e));
	const char *lib = getenv(BTFUSE_PRELOAD_ENV);
	if (lib) {
		static char libcopy[4096];
		snprintf(libcopy, sizeof libcopy, "%s", lib);
		unsetenv(BTFUSE_PRELOAD_ENV);
		add_preload(sock, path, libcopy);
	}

	static struct sock_filter filter[BPF_MAXINSNS];
	ssize_t n;
	do
		n = read(sock, filter, sizeof filter);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || n % sizeof filter[0] != 0)
		die(sock, 126, "no filter from the parent");
	struct sock_fprog prog = {
		.len = n / sizeof filter[0],
		.filter = filter,
	};
	// Without privileges, a filter needs no_new_privs; as root it is left
	// alone, so that setuid programs keep working under run.
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		say(sock, "no_new_privs", errno);
		die(-1, 126, NULL);
	}
	// SPEC_ALLOW: a filter would otherwise switch the speculative store
	// bypass mitigation on for the command where the kernel runs with
	// spec_store_bypass_disable=seccomp, slowing all of its code. btfuse
	// run is not a sandbox, and the command must run as it would natively.
	unsigned int flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_SPEC_ALLOW;
	long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (lfd < 0 && errno == EINVAL) // Linux < 5.19: no WAIT_KILLABLE_RECV
		lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (lfd < 0) {
		say(sock, "seccomp", errno);
		die(-1, 126, NULL);
	}

	// From here on this process is filtered: its execve is notified, so it
	// must not exec before the parent says the listener is served.
	char tag = 'L';
	struct iovec iov = {.iov_base = &tag, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof u.buf,
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	int fd = lfd;
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &msg, 0) != 1)
		die(-1, 126, "send listener: %s", strerror(errno));
	close(lfd);
	char go;
	do
		n = read(sock, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'G')
		_exit(126); // the parent gave up
	close(sock);
	execve(path, cmd, environ);
	e = errno;
	die(-1, e == ENOENT ? 127 : 126, "%s: %s", cmd[0], strerror(e));
}

__attribute__((constructor)) static void btfuse_launch_child(int argc, char **argv, char **envp)
{
	(void)envp;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		btfuse_orig_nofile = rl.rlim_cur;
		btfuse_orig_nofile_ok = 1;
	}
	const char *sock = getenv(BTFUSE_CHILD_ENV);
	if (sock)
		child_main(argc, argv, sock);
}
