// The calls that make, remove and move names: mkdir, mknod/mkfifo,
// unlink/rmdir, rename, link, symlink, and chdir.

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

static long do_mkdirat(int dirfd, const char *path, mode_t mode)
{
	enum fl_where w = fl_route(dirfd, path);
	return FL_SYSCALL(w, fl_mkdirat(dirfd, path, mode), SYS_mkdirat, dirfd, path, mode, 0, 0, 0);
}

FL_EXPORT int mkdir(const char *path, mode_t mode)
{
	return (int)fl_ret(do_mkdirat(AT_FDCWD, path, mode));
}

FL_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return (int)fl_ret(do_mkdirat(dirfd, path, mode));
}

static long do_mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	// dev_t is 64 bits, the kernel's argument 32: glibc refuses the rest.
	unsigned int kdev = (unsigned int)dev;
	if (kdev != dev)
		return -EINVAL;
	enum fl_where w = fl_route(dirfd, path);
	return FL_SYSCALL(w, FL_PASS, SYS_mknodat, dirfd, path, mode, kdev, 0, 0);
}

FL_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	return (int)fl_ret(do_mknodat(dirfd, path, mode, dev));
}

FL_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
	return (int)fl_ret(do_mknodat(AT_FDCWD, path, mode, dev));
}

FL_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	return (int)fl_ret(do_mknodat(dirfd, path, mode | S_IFIFO, 0));
}

FL_EXPORT int mkfifo(const char *path, mode_t mode)
{
	return (int)fl_ret(do_mknodat(AT_FDCWD, path, mode | S_IFIFO, 0));
}

// The pre-2.33 mknod entry points; _MKNOD_VER_LINUX is 0 on x86-64.
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);

FL_EXPORT int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
	return (int)fl_ret(ver != 0 ? -EINVAL : do_mknodat(AT_FDCWD, path, mode, *dev));
}

FL_EXPORT int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
	return (int)fl_ret(ver != 0 ? -EINVAL : do_mknodat(dirfd, path, mode, *dev));
}

static long do_unlinkat(int dirfd, const char *path, int flags)
{
	enum fl_where w = fl_route(dirfd, path);
	return FL_SYSCALL(w, fl_unlinkat(dirfd, path, flags), SYS_unlinkat, dirfd, path, flags, 0, 0, 0);
}

FL_EXPORT int unlink(const char *path)
{
	return (int)fl_ret(do_unlinkat(AT_FDCWD, path, 0));
}

FL_EXPORT int rmdir(const char *path)
{
	return (int)fl_ret(do_unlinkat(AT_FDCWD, path, AT_REMOVEDIR));
}

FL_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	return (int)fl_ret(do_unlinkat(dirfd, path, flags));
}

static long do_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags)
{
	enum fl_where w = fl_route2(olddirfd, oldpath, newdirfd, newpath);
	return FL_SYSCALL(w, fl_renameat2(olddirfd, oldpath, newdirfd, newpath, flags), SYS_renameat2, olddirfd,
			  oldpath, newdirfd, newpath, flags, 0);
}

FL_EXPORT int rename(const char *oldpath, const char *newpath)
{
	return (int)fl_ret(do_renameat2(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
}

FL_EXPORT int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	return (int)fl_ret(do_renameat2(olddirfd, oldpath, newdirfd, newpath, 0));
}

FL_EXPORT int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags)
{
	return (int)fl_ret(do_renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
}

static long do_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	enum fl_where w = fl_route2(olddirfd, oldpath, newdirfd, newpath);
	return FL_SYSCALL(w, fl_linkat(olddirfd, oldpath, newdirfd, newpath, flags), SYS_linkat, olddirfd, oldpath, newdirfd,
			  newpath, flags, 0);
}

FL_EXPORT int link(const char *oldpath, const char *newpath)
{
	return (int)fl_ret(do_linkat(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0));
}

FL_EXPORT int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	return (int)fl_ret(do_linkat(olddirfd, oldpath, newdirfd, newpath, flags));
}

// A symlink's target is only its contents: the new name decides.
static long do_symlinkat(const char *target, int dirfd, const char *path)
{
	enum fl_where w = fl_route(dirfd, path);
	return FL_SYSCALL(w, FL_PASS, SYS_symlinkat, target, dirfd, path, 0, 0, 0);
}

FL_EXPORT int symlink(const char *target, const char *path)
{
	return (int)fl_ret(do_symlinkat(target, AT_FDCWD, path));
}

FL_EXPORT int symlinkat(const char *target, int dirfd, const char *path)
{
	return (int)fl_ret(do_symlinkat(target, dirfd, path));
}

// The seccomp lane CONTINUEs chdir everywhere (the kernel owns a
// process's working directory): under the mount too it goes straight to
// the kernel.
FL_EXPORT int chdir(const char *path)
{
	enum fl_where w = fl_route(AT_FDCWD, path);
	return (int)fl_ret(FL_SYSCALL(FL_KERNEL_UNLESS_PLAIN(w), FL_PASS, SYS_chdir, path, 0, 0, 0, 0, 0));
}
