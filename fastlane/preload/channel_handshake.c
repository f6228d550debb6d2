/* channel_handshake.c: how the library joins the daemon (the design:
 * package fastlane, doc.go, "Handshake"): a connection to the control
 * socket, one request in its wire format (a 4-byte big-endian length, then
 * JSON), and a reply that carries the segment, the doorbell and, for a
 * process that may have them, the backing directory and the metadata
 * view. Like channel.c, it makes its syscalls with syscall(2). */
#define _GNU_SOURCE
#include <sys/resource.h>

#include "channel_int.h"
#include "view.h"

static void close_fd(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}

/* io writes or reads all of buf on fd; it returns 0 or -1. A frame's first
 * read collects the descriptors that ride on it. */
static int send_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = syscall(SYS_sendto, fd, buf, n, MSG_NOSIGNAL, NULL, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_all(int fd, char *buf, size_t n, int *fds, int *nfds)
{
	while (n > 0) {
		char cbuf[CMSG_SPACE(4 * sizeof(int))];
		struct iovec iov = {buf, n};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ssize_t r = syscall(SYS_recvmsg, fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
				if (*nfds < 4)
					fds[(*nfds)++] = f;
				else
					close_fd(f);
			}
		}
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* map_view maps the metadata view behind fd read-only (view.h), when its
 * header is the layout this library reads; otherwise calls use the
 * channel. One view per process: a second one is not mapped. */
static void map_view(int fd)
{
	struct stat sb;
	if (flc_view || syscall(SYS_fstat, fd, &sb) < 0 || sb.st_size < FLV_HEADER_BYTES)
		return;
	size_t n = (size_t)sb.st_size;
	char *v = (char *)syscall(SYS_mmap, NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED)
		return;
	if (syscall(SYS_madvise, v, n, MADV_DONTFORK) < 0 || ld(v, FLV_HDR_MAGIC) != FLV_MAGIC ||
	    ld(v, FLV_HDR_VERSION) != FLV_VERSION || *(uint64_t *)(v + FLV_HDR_SIZE) != n) {
		syscall(SYS_munmap, v, n);
		return;
	}
	flc_view_size = n;
	__atomic_store_n(&flc_view, v, __ATOMIC_RELEASE);
}

/* keep_high moves fd, one of the library's own, to the lowest free number
 * at or above floor (and closes the old one): the numbers below are the
 * program's, whose opens and dups get the lowest free one (fs/file.c
 * alloc_fd()) and must not see the library's in their way. Where it
 * cannot move (a full table), it stays. */
static int keep_high(int fd, long floor)
{
	if (fd < 0 || fd >= floor)
		return fd;
	long m = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
	if (m < 0)
		return fd;
	close_fd(fd);
	return (int)m;
}

/* high_floor is where the library's descriptors go: half the soft
 * RLIMIT_NOFILE, below the seccomp lane's reserved range (its top
 * quarter, supervisor.ReservedRange), and at most 512, so that the
 * kernel's table of a program with a huge limit stays small. */
static long high_floor(void)
{
	struct rlimit rl;
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) < 0)
		return 0;
	long f = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024 ? 512 : (long)(rl.rlim_cur / 2);
	return f > 3 ? f : 0;
}

int flc_handshake(const char *sock, struct flc_conn *c)
{
	static const char req[] = "{\"version\":1,\"op\":\"fastlane\"}";
	int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, sock, sizeof a.sun_path - 1);
	/* A daemon that does not answer must not hang the program. */
	struct timeval tv = {2, 0};
	int fds[4], nfds = 0, ok = 0;
	char *seg = NULL;
	if (syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		goto out;
	if (syscall(SYS_connect, fd, &a, sizeof a) < 0)
		goto out;
	char frame[4 + sizeof(req) - 1];
	uint32_t n = sizeof(req) - 1;
	frame[0] = (char)(n >> 24), frame[1] = (char)(n >> 16), frame[2] = (char)(n >> 8), frame[3] = (char)n;
	memcpy(frame + 4, req, n);
	if (send_all(fd, frame, sizeof frame) < 0)
		goto out;
	unsigned char hdr[4];
	if (recv_all(fd, (char *)hdr, 4, fds, &nfds) < 0)
		goto out;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	char body[1024];
	if (n >= sizeof body || recv_all(fd, body, n, fds, &nfds) < 0)
		goto out;
	body[n] = 0;
	if (strstr(body, "\"error\"") || nfds < 1)
		goto out;
	struct stat sb;
	if (syscall(SYS_fstat, fds[0], &sb) < 0 || sb.st_size < FL_SEG_SIZE)
		goto out;
	seg = (char *)syscall(SYS_mmap, NULL, FL_SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (seg == MAP_FAILED) {
		seg = NULL;
		goto out;
	}
	if (syscall(SYS_madvise, seg, FL_SEG_SIZE, MADV_DONTFORK) < 0)
		goto out;
	if (ld(seg, HDR_MAGIC) != FL_MAGIC || ld(seg, HDR_VERSION) != FL_VERSION || ld(seg, HDR_SLOTS) != FL_NUM_SLOTS ||
	    ld(seg, HDR_SLOT_SIZE) != FL_SLOT_SIZE || ld(seg, HDR_SLOTS_OFF) != FL_SLOTS_OFF)
		goto out;
	struct timeval none = {0, 0};
	if (syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none) < 0)
		goto out;
	if (nfds < 2)
		goto out;
	long floor = high_floor();
	if (nfds >= 3 && syscall(SYS_fstat, fds[2], &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (!flc_fds) {
			void *t = (void *)syscall(SYS_mmap, NULL, FL_MAX_FDS * sizeof(struct fl_fd), PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			flc_fds = t == MAP_FAILED ? NULL : t;
		}
		if (flc_fds) {
			flc_backdir = floor > 0 ? keep_high(fds[2], floor) : fds[2];
			flc_backdir_dev = sb.st_dev;
			flc_backdir_ino = sb.st_ino;
			fds[2] = -1;
			if (nfds >= 4)
				map_view(fds[3]);
		}
	}
	if (floor > 0) {
		fd = keep_high(fd, floor);
		fds[1] = keep_high(fds[1], floor);
	}
	c->bell = fds[1];
	fds[1] = -1;
	c->seg = seg;
	c->ctl = fd;
	flc_pid = (pid_t)syscall(SYS_getpid);
	ok = 1;
out:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close_fd(fds[i]);
	if (!ok) {
		if (seg)
			syscall(SYS_munmap, seg, FL_SEG_SIZE);
		close_fd(fd);
		return -1;
	}
	return 0;
}

