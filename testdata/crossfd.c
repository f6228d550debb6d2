// Crossed descriptors (testdata of supervisor.TestCrossedDescriptors): one
// thread opens, reads and closes a file in a loop while another fills the
// descriptor table with pipes until EMFILE, checks each, closes half and
// fills again. Every descriptor must stay what its thread made it: served
// content read from a pipe, a pipe (or nothing) behind a descriptor open()
// returned, or a close that finds nothing, is a misdirection.
//
// Usage: crossfd FILE CONTENT SECONDS NOFILE. The soft RLIMIT_NOFILE is set
// to NOFILE first, before any thread starts. Prints "misdirected M opens O
// pipes P" and exits 0, or 1 when something else failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *path, *content;
static size_t content_len;
static atomic_int stop;
static atomic_long misdirected, opens, pipes_made, failures;

static void miss(const char *what, int fd) {
	if (atomic_fetch_add(&misdirected, 1) < 10)
		fprintf(stderr, "misdirected: %s (fd %d)\n", what, fd);
}

static void fail(const char *what) {
	if (atomic_fetch_add(&failures, 1) < 10)
		fprintf(stderr, "%s: %s\n", what, strerror(errno));
}

static void *reader(void *arg) {
	(void)arg;
	char buf[256];
	while (!atomic_load(&stop)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != EMFILE)
				fail("open");
			continue;
		}
		atomic_fetch_add(&opens, 1);
		// Never block: a pipe behind fd would have nothing to read.
		if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
			miss("fcntl on the descriptor open() returned", fd);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n = pread(fd, buf, sizeof buf, 0);
			if (n != (ssize_t)content_len || memcmp(buf, content, content_len) != 0) {
				miss("open() returned something else than the file", fd);
				break;
			}
			sched_yield();
		}
		if (close(fd) != 0)
			miss("close of the descriptor open() returned", fd);
	}
	return NULL;
}

enum { maxPipes = 4096 };
static int pipes[maxPipes][2];

// check writes a marker into pipe i and reads it back.
static void check(int i, long mark) {
	char want[32], got[256];
	int len = snprintf(want, sizeof want, "pipe %ld", mark);
	if (write(pipes[i][1], want, len) != len) {
		miss("write to a pipe", pipes[i][1]);
		return;
	}
	ssize_t n = read(pipes[i][0], got, sizeof got);
	if (n != len || memcmp(got, want, len) != 0) {
		if (n > 0 && (size_t)n >= content_len && memcmp(got, content, content_len) == 0)
			miss("the file's content read from a pipe", pipes[i][0]);
		else
			miss("a pipe gave back something else", pipes[i][0]);
	}
}

static void *piper(void *arg) {
	(void)arg;
	int n = 0;
	long mark = 0;
	while (!atomic_load(&stop)) {
		while (n < maxPipes) {
			if (pipe2(pipes[n], O_NONBLOCK | O_CLOEXEC) != 0) {
				if (errno != EMFILE)
					fail("pipe2");
				break;
			}
			atomic_fetch_add(&pipes_made, 1);
			check(n, mark++);
			n++;
		}
		for (int i = 0; i < n; i++)
			check(i, mark++);
		// Close every other pipe, keeping the rest in order.
		int kept = 0;
		for (int i = 0; i < n; i++) {
			if (i % 2 == 0) {
				pipes[kept][0] = pipes[i][0];
				pipes[kept][1] = pipes[i][1];
				kept++;
				continue;
			}
			for (int j = 0; j < 2; j++)
				if (close(pipes[i][j]) != 0)
					miss("close of a pipe", pipes[i][j]);
		}
		n = kept;
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: crossfd FILE CONTENT SECONDS NOFILE\n");
		return 2;
	}
	path = argv[1];
	content = argv[2];
	content_len = strlen(content);
	int seconds = atoi(argv[3]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("getrlimit");
		return 1;
	}
	rl.rlim_cur = strtoul(argv[4], NULL, 10);
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		return 1;
	}
	// A pipe whose read end was replaced has no reader.
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("signal");
		return 1;
	}
	pthread_t r, p;
	int e = pthread_create(&r, NULL, reader, NULL);
	if (e == 0)
		e = pthread_create(&p, NULL, piper, NULL);
	if (e != 0) {
		fprintf(stderr, "pthread_create: %s\n", strerror(e));
		return 1;
	}
	sleep(seconds);
	atomic_store(&stop, 1);
	pthread_join(r, NULL);
	pthread_join(p, NULL);
	printf("misdirected %ld opens %ld pipes %ld\n", atomic_load(&misdirected), atomic_load(&opens),
	       atomic_load(&pipes_made));
	return atomic_load(&failures) != 0;
}
