// The channel before it exists: every call passes to the ordinary
// syscall, so the library's outside-the-mount half works on its own. The
// build compiles this file only when channel.c is absent (fastlane/build.go
// and the Justfile's build recipe).

#include "channel.h"

int fl_channel_init(const char *mount)
{
	(void)mount;
	return 0;
}

void fl_channel_atfork_child(void) {}

long fl_newfstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	(void)dirfd, (void)path, (void)st, (void)flags;
	return FL_PASS;
}

long fl_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	(void)dirfd, (void)path, (void)flags, (void)mask, (void)stx;
	return FL_PASS;
}

long fl_faccessat2(int dirfd, const char *path, int mode, int flags)
{
	(void)dirfd, (void)path, (void)mode, (void)flags;
	return FL_PASS;
}

long fl_readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	(void)dirfd, (void)path, (void)buf, (void)len;
	return FL_PASS;
}

long fl_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	(void)dirfd, (void)path, (void)flags, (void)mode;
	return FL_PASS;
}

long fl_mkdirat(int dirfd, const char *path, mode_t mode)
{
	(void)dirfd, (void)path, (void)mode;
	return FL_PASS;
}

long fl_unlinkat(int dirfd, const char *path, int flags)
{
	(void)dirfd, (void)path, (void)flags;
	return FL_PASS;
}

long fl_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)
{
	(void)olddirfd, (void)oldpath, (void)newdirfd, (void)newpath, (void)flags;
	return FL_PASS;
}

long fl_fstat(int fd, struct stat *st)
{
	(void)fd, (void)st;
	return FL_PASS;
}

long fl_close(int fd)
{
	(void)fd;
	return FL_PASS;
}
