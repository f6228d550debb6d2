// flfdnum: the descriptor numbers a program gets after its first calls
// under a directory, which make the fast lane's library handshake (and so
// hold descriptors of its own). The kernel gives the lowest free number:
// the program's own opens must still get 3, 4, 5... as without the lane.
//
// Usage: flfdnum DIR
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: flfdnum DIR\n");
		return 2;
	}
	struct stat st;
	for (int i = 0; i < 20; i++)
		stat(argv[1], &st);
	int a = open("/dev/null", O_RDONLY);
	int b = openat(AT_FDCWD, argv[1], O_RDONLY | O_DIRECTORY);
	int c = dup(a);
	printf("%d %d %d\n", a, b, c);
	return a < 0 || b < 0 || c < 0;
}
