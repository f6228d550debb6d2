// Opens with the descriptor table full (testdata of
// supervisor.TestOpenFullTable): fs/open.c takes a descriptor number
// before it walks the path, so an open with O_CREAT or O_TRUNC in a full
// table is EMFILE and creates or truncates nothing, and even a missing file
// is EMFILE, not ENOENT. The program fills its table to just under the top
// quarter (where btfuse run reserves descriptors), then to the limit, and
// opens there; then once more with a second thread sharing the table.
//
// Usage: nofile DIR NOFILE. The soft RLIMIT_NOFILE is set to NOFILE first.
// Prints one line per step (results and errno names, no descriptor
// numbers, which differ between the kernel and btfuse) and exits 0, or 1
// when the program could not run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void out(const char *what, const char *suffix, long r)
{
	printf("%s%s %s\n", what, suffix, r < 0 ? strerrorname_np(errno) : "ok");
	errno = 0;
}

static int fds[65536], nfds;

// fill opens /dev/null until the next descriptor would be at least upto
// (or the table is full).
static void fill(int upto)
{
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return;
		fds[nfds++] = fd;
		if (fd + 1 >= upto)
			return;
	}
}

static void round_(const char *sfx, int nofile)
{
	char a[32], b[32], full[32], full2[32], full3[32], t[32];
	snprintf(a, sizeof a, "a%s", sfx);
	snprintf(b, sizeof b, "b%s", sfx);
	snprintf(full, sizeof full, "full%s", sfx);
	snprintf(full2, sizeof full2, "full2%s", sfx);
	snprintf(full3, sizeof full3, "full3%s", sfx);
	snprintf(t, sizeof t, "t%s", sfx);
	int fd = open(t, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abc", 3) != 3 || close(fd) != 0) {
		perror(t);
		exit(1);
	}
	// Room under the reserved quarter only.
	fill(nofile - nofile / 4);
	fd = open(a, O_CREAT | O_WRONLY, 0600);
	out("create with the quarter free", sfx, fd);
	if (fd >= 0)
		close(fd);
	// No room at all.
	fill(nofile);
	out("table full: open /dev/null", sfx, open("/dev/null", O_RDONLY));
	out("table full: O_CREAT", sfx, open(full, O_CREAT | O_WRONLY, 0600));
	out("table full: creat", sfx, creat(full2, 0600));
	out("table full: O_TRUNC", sfx, open(t, O_TRUNC | O_WRONLY));
	out("table full: O_CREAT|O_TRUNC", sfx, open(t, O_CREAT | O_TRUNC | O_RDWR, 0600));
	out("table full: O_CREAT|O_EXCL existing", sfx, open(t, O_CREAT | O_EXCL | O_WRONLY, 0600));
	out("table full: O_CREAT in missing dir", sfx, open("missing/x", O_CREAT | O_WRONLY, 0600));
	out("table full: open missing", sfx, open("missing", O_RDONLY));
	out("table full: open existing", sfx, open(t, O_RDONLY));
	out("table full: fopen w", sfx, fopen(full3, "w") ? 0 : -1);
	// One number free, low in the table: the open takes it.
	int freed = fds[0];
	close(freed);
	fd = open(b, O_CREAT | O_WRONLY, 0600);
	out("one free: O_CREAT", sfx, fd);
	printf("one free: takes the freed number%s %d\n", sfx, fd == freed);
	if (fd >= 0)
		close(fd);
	fds[0] = -1;
	while (nfds > 0)
		if (fds[--nfds] >= 0)
			close(fds[nfds]);
	struct stat s;
	out("stat full", sfx, stat(full, &s));
	out("stat full2", sfx, stat(full2, &s));
	out("stat full3", sfx, stat(full3, &s));
	out("stat a", sfx, stat(a, &s));
	out("stat b", sfx, stat(b, &s));
	printf("size of t%s %ld\n", sfx, stat(t, &s) == 0 ? (long)s.st_size : -1L);
}

static int hold[2];

static void *waiter(void *arg)
{
	(void)arg;
	char c;
	while (read(hold[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: nofile DIR NOFILE\n");
		return 1;
	}
	int nofile = atoi(argv[2]);
	struct rlimit lim;
	if (nofile < 16 || nofile > 65536 || getrlimit(RLIMIT_NOFILE, &lim) != 0) {
		fprintf(stderr, "nofile: bad limit\n");
		return 1;
	}
	lim.rlim_cur = nofile;
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
		perror("setrlimit");
		return 1;
	}
	round_("", nofile);
	// The same with a second thread sharing the descriptor table.
	pthread_t th;
	if (pipe(hold) != 0 || pthread_create(&th, NULL, waiter, NULL) != 0) {
		perror("thread");
		return 1;
	}
	round_(" (two threads)", nofile);
	close(hold[1]);
	pthread_join(th, NULL);
	return 0;
}
