// flview stats paths in a loop for the metadata view's tests under
// 'btfuse run' (cmd/btfuse/view_test.go) and prints each distinct answer
// once, with how often it came:
//
//   flview watch N PATH...   lstat each PATH N times; lines "path r errno ino type mode uid size<TAB>count"
//
// The test changes the paths meanwhile and checks that every answer is a
// state they were in.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SEEN 256

static char seen[MAX_SEEN][256];
static long counts[MAX_SEEN];
static int nseen;

static void note(const char *s)
{
	for (int i = 0; i < nseen; i++)
		if (!strcmp(seen[i], s)) {
			counts[i]++;
			return;
		}
	if (nseen < MAX_SEEN) {
		snprintf(seen[nseen], sizeof seen[nseen], "%s", s);
		counts[nseen++] = 1;
	}
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "watch"))
		return 2;
	long n = atol(argv[2]);
	for (long k = 0; k < n; k++)
		for (int i = 3; i < argc; i++) {
			struct stat st;
			char b[256];
			if (lstat(argv[i], &st) == 0)
				snprintf(b, sizeof b, "%s 0 0 %lu %o %o %u %ld", argv[i], (unsigned long)st.st_ino,
					 st.st_mode & S_IFMT, st.st_mode & 07777, st.st_uid,
					 S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
			else
				snprintf(b, sizeof b, "%s -1 %d", argv[i], errno);
			note(b);
		}
	for (int i = 0; i < nseen; i++)
		printf("%s\t%ld\n", seen[i], counts[i]);
	return nseen >= MAX_SEEN ? 3 : 0;
}
