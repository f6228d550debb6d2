// Counts how often stat, open and unlink fail with EINTR while a timer
// signal whose handler lacks SA_RESTART fires every 200 us (testdata of
// supervisor.BenchmarkEINTR). Prints the three counts and other failures.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: eintr DIR N\n"); return 2; }
	const char *dir = argv[1];
	long n = atol(argv[2]);
	char f[4096], g[4096];
	snprintf(f, sizeof f, "%s/eintr-f", dir);
	snprintf(g, sizeof g, "%s/eintr-g", dir);
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	if (fd < 0) { perror("create"); return 1; }
	close(fd);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; // no SA_RESTART
	if (sigaction(SIGALRM, &sa, NULL) != 0) { perror("sigaction"); return 1; }
	struct itimerval it = {{0, 200}, {0, 200}};
	if (setitimer(ITIMER_REAL, &it, NULL) != 0) { perror("setitimer"); return 1; }
	long eintr[3] = {0, 0, 0}, other = 0;
	for (long i = 0; i < n; i++) {
		struct stat st;
		if (stat(f, &st) != 0) { if (errno == EINTR) eintr[0]++; else other++; }
		int d = open(g, O_CREAT | O_WRONLY, 0644);
		if (d < 0) { if (errno == EINTR) eintr[1]++; else other++; } else close(d);
		if (unlink(g) != 0) { if (errno == EINTR) eintr[2]++; else if (errno != ENOENT) other++; }
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	unlink(f);
	printf("%ld %ld %ld %ld\n", eintr[0], eintr[1], eintr[2], other);
	return 0;
}
