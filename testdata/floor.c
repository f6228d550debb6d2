// floor: what the machine itself charges for the mechanisms btfuse run is
// built on, with no btfuse code in the way (supervisor BenchmarkFloor).
//
//   floor thread N       N notified syscalls answered by a thread of this process
//   floor process N      the same answered by another process (the daemon's case)
//   floor filter N PATH  N stats of PATH without a filter, then under one that
//                        allows every call after reading the instruction pointer
//
// The notify modes print the mean microseconds per call; the filter mode
// prints the mean nanoseconds per stat without and with the filter. The
// notified syscall is 0xbf1, which no kernel assigns (the fast lane's
// doorbell number), answered with 7.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

#define NR_FLOOR 0xbf1

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int install(struct sock_filter *f, unsigned short len, unsigned flags)
{
	struct sock_fprog prog = {.len = len, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static void *serve(void *arg)
{
	int fd = *(int *)arg;
	for (;;) {
		struct seccomp_notif n;
		memset(&n, 0, sizeof n);
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
			if (errno == EINTR)
				continue;
			return NULL; // the last target is gone
		}
		struct seccomp_notif_resp r;
		memset(&r, 0, sizeof r);
		r.id = n.id;
		r.val = 7;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
	}
}

static int notify(int n, int other_process)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_FLOOR, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	static int fd;
	fd = install(f, sizeof f / sizeof f[0], SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
	if (fd < 0) {
		perror("seccomp");
		return 1;
	}
	__u64 flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) != 0) {
		perror("SECCOMP_IOCTL_NOTIF_SET_FLAGS");
		return 1;
	}
	// The receiver inherits the filter but never makes the notified call.
	pid_t child = -1;
	if (other_process) {
		child = fork();
		if (child < 0) {
			perror("fork");
			return 1;
		}
		if (child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			serve(&fd);
			_exit(0);
		}
	} else {
		pthread_t t;
		if (pthread_create(&t, NULL, serve, &fd) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < n / 10 + 1; i++) // warm up
		syscall(NR_FLOOR);
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		long v = syscall(NR_FLOOR);
		if (v != 7) {
			fprintf(stderr, "call %d returned %ld (errno %d)\n", i, v, errno);
			return 1;
		}
	}
	printf("%.2f\n", (now_ns() - t0) / n / 1000);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}

static double stat_loop(const char *path, int n)
{
	struct stat st;
	double t0 = now_ns();
	for (int i = 0; i < n; i++)
		if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) != 0) {
			perror(path);
			exit(1);
		}
	return (now_ns() - t0) / n;
}

static int filter(int n, const char *path)
{
	// Reading the instruction pointer makes the result depend on more
	// than the syscall number, so the kernel cannot cache it as an
	// always-allowed call (seccomp's action cache): the filter runs on
	// every stat, as the fast filter of 'btfuse run' does.
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x1000, 0, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	stat_loop(path, n / 10 + 1);
	double plain = stat_loop(path, n);
	if (install(f, sizeof f / sizeof f[0], SECCOMP_FILTER_FLAG_SPEC_ALLOW) != 0) {
		perror("seccomp");
		return 1;
	}
	stat_loop(path, n / 10 + 1);
	printf("%.0f %.0f\n", plain, stat_loop(path, n));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "thread") == 0)
		return notify(atoi(argv[2]), 0);
	if (argc >= 3 && strcmp(argv[1], "process") == 0)
		return notify(atoi(argv[2]), 1);
	if (argc >= 4 && strcmp(argv[1], "filter") == 0)
		return filter(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: floor thread|process N | floor filter N PATH\n");
	return 2;
}
