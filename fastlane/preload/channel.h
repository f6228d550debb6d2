/* fastlane/preload/channel.h: the entry side (A) calls these for paths it has classified as under
 * the mount; the channel side (B) implements them. Each returns FL_PASS when the channel cannot
 * answer (not connected, op or flags unsupported, a path step that needs the kernel: "..", an
 * absolute symlink...), and the caller then makes the ordinary syscall, which the seccomp lane
 * serves. Otherwise it returns what the raw syscall returns: >= 0, or -errno. */
#pragma once
#include <sys/types.h>
#include <sys/stat.h>
#define FL_PASS (-100000L)
/* FL_KERNEL_PASS: the daemon cannot answer and only the kernel can (fsimpl's StepAside: the
 * seccomp lane would CONTINUE the call); the caller makes it from the trampoline. */
#define FL_KERNEL_PASS (-100001L)
struct statx;
int  fl_channel_init(const char *mount);  /* constructor, once; 0 or -errno; mount has no trailing / and stays valid */
void fl_channel_atfork_child(void);      /* first thing in a fork child: forget the parent's channel */
int  fl_channel_mine(void);              /* 1 in the process the channel belongs to (one getpid) */
int  fl_channel_ready(void);             /* 1 once this process has handshaked (no syscall) */
long fl_newfstatat(int dirfd, const char *path, struct stat *st, int flags);
long fl_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx);
long fl_faccessat2(int dirfd, const char *path, int mode, int flags);
long fl_readlinkat(int dirfd, const char *path, char *buf, size_t len);
long fl_openat(int dirfd, const char *path, int flags, mode_t mode);
struct fl_place;
/* fl_openat_at is fl_openat given what the route learned (view.h), or NULL. */
long fl_openat_at(int dirfd, const char *path, int flags, mode_t mode, const struct fl_place *pl);
long fl_mkdirat(int dirfd, const char *path, mode_t mode);
long fl_unlinkat(int dirfd, const char *path, int flags);
long fl_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
long fl_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
long fl_fstat(int fd, struct stat *st);   /* fds the channel opened (FL_PASS for others) */
long fl_close(int fd);                    /* the fd is closed by the caller afterwards either way */
void fl_dup(int oldfd, int newfd);        /* after a dup, dup2, dup3 or F_DUPFD succeeded: newfd is oldfd's */
void fl_closed(int fd);                   /* the kernel closed fd already (dup2 onto it): forget it */
void fl_fds_spare(unsigned int lo, unsigned int hi); /* before the program replaces or closes [lo, hi] */
int fl_fds_keep(unsigned int lo, unsigned int hi, int kept[3]); /* the same, listing those left in place */
int fl_faults_live(void); /* a fault rule applies to every process: no trampoline */
int fl_kernel_ok(void);    /* a call under the mount may go to the kernel from the trampoline */
void fl_channel_nudge(void);             /* count a call that a handshake would make cheaper */
int fl_backing_dev(dev_t *dev);          /* 1 and *dev: the backing files' device, once the daemon gave its directory */
int fl_channel_opens(void);               /* 1 when opens may be served (the daemon gave its backing directory) */
void fl_closed_range(unsigned int first, unsigned int last); /* fl_closed for each, after close_range */
int  fl_own_fd(int fd);                   /* 1: fd is a backing file the channel opened in this process */
long fl_channel_rings(void);              /* requests the doorbell served in this process (for tests) */
/* The descriptor calls on fds the channel opened (FL_PASS for others): the daemon answers them for
 * the File, as the seccomp lane does for its own descriptors. Buffers are read and written by the
 * daemon in the caller's memory. */
struct statfs;
long fl_fchmod(int fd, mode_t mode);
long fl_fchown(int fd, uid_t uid, gid_t gid);
long fl_fstatx(int fd, int flags, unsigned int mask, struct statx *stx); /* statx(fd, "", AT_EMPTY_PATH|flags) */
long fl_fstatfs(int fd, struct statfs *buf);
long fl_fgetxattr(int fd, const char *name, void *value, size_t size);
long fl_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
long fl_flistxattr(int fd, char *list, size_t size);
long fl_fremovexattr(int fd, const char *name);
