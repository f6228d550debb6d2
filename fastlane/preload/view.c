/* view.c: the stat family, access and readlink answered from the metadata
 * view (view.h) inside the calling process, without a round trip.
 *
 * A call is answered only when everything it depends on is in the view:
 * the process may read it now (flc_view_seg: the daemon set hdrViewWalk
 * for its credentials, and the view is usable), the path starts at the
 * mount (an absolute path naming the mount literally, or a working
 * directory under it) or at a directory of the mount held open (dirfd),
 * every directory the walk passes is one every credential may search,
 * every symlink it follows has its target inline, lies in a directory
 * where every credential may follow it, and keeps its atime (relatime)
 * when followed. Anything else is FL_PASS, and the channel answers: the
 * reader never judges a permission itself.
 *
 * The walk (view_walk.c) is bounded; the whole read is retried at most
 * FLV_RETRIES times when the writer moved underneath (the header's
 * sequence). Nothing here writes to the view; the hit counters are in the
 * process's own segment. */
#define _GNU_SOURCE
#include "view_int.h"

#include <sys/sysmacros.h>

void flv_copy_attr(const struct vb *b, int32_t s, struct vattr *a)
{
	size_t o = slot(b, s);
	a->ino = v64(b->v, o + FLV_INO_INO);
	a->mode = v32(b->v, o + FLV_INO_MODE);
	a->nlink = v32(b->v, o + FLV_INO_NLINK);
	a->uid = v32(b->v, o + FLV_INO_UID);
	a->gid = v32(b->v, o + FLV_INO_GID);
	a->rdev = v64(b->v, o + FLV_INO_RDEV);
	a->size = v64(b->v, o + FLV_INO_SIZE);
	a->blocks = v64(b->v, o + FLV_INO_BLOCKS);
	a->at[0] = (int64_t)v64(b->v, o + FLV_INO_ATIME), a->at[1] = (int64_t)v64(b->v, o + FLV_INO_ATIME + 8);
	a->mt[0] = (int64_t)v64(b->v, o + FLV_INO_MTIME), a->mt[1] = (int64_t)v64(b->v, o + FLV_INO_MTIME + 8);
	a->ct[0] = (int64_t)v64(b->v, o + FLV_INO_CTIME), a->ct[1] = (int64_t)v64(b->v, o + FLV_INO_CTIME + 8);
	a->flags = v32(b->v, o + FLV_INO_FLAGS);
	a->grant = v32(b->v, o + FLV_INO_GRANT);
	a->priv = v32(b->v, o + FLV_INO_PRIV);
}

/* backing completes a regular file's attributes from its backing file, as
 * fsimpl's attrLocked does: size, blocks, atime and mtime are the backing
 * file's, ctime the later of the two, and setuid/setgid that the backing
 * file lost are gone. 0, or FL_PASS. */
static long backing(struct vattr *a)
{
	if (a->flags & FLV_F_VOLATILE)
		return FL_PASS;
	int dfd = flc_backdir;
	if (dfd < 0)
		return FL_PASS;
	char name[24];
	flv_backing_name(name, a->ino);
	struct stat bs;
	long r = &fl_tramp && fl_tramp ? fl_tramp(SYS_newfstatat, dfd, (long)name, (long)&bs, AT_SYMLINK_NOFOLLOW, 0, 0)
			  : syscall(SYS_newfstatat, dfd, name, &bs, AT_SYMLINK_NOFOLLOW);
	if (r != 0)
		return FL_PASS;
	return flv_backing_attr(a, &bs);
}

long flv_backing_attr(struct vattr *a, const struct stat *bs)
{
	if ((a->flags & FLV_F_VOLATILE) || bs->st_dev != flc_backdir_dev || !S_ISREG(bs->st_mode))
		return FL_PASS;
	a->size = (uint64_t)bs->st_size;
	a->blocks = (uint64_t)bs->st_blocks;
	a->at[0] = bs->st_atim.tv_sec, a->at[1] = bs->st_atim.tv_nsec;
	a->mt[0] = bs->st_mtim.tv_sec, a->mt[1] = bs->st_mtim.tv_nsec;
	if (bs->st_ctim.tv_sec > a->ct[0] || (bs->st_ctim.tv_sec == a->ct[0] && bs->st_ctim.tv_nsec > a->ct[1]))
		a->ct[0] = bs->st_ctim.tv_sec, a->ct[1] = bs->st_ctim.tv_nsec;
	a->mode &= ~(a->priv & (S_ISUID | S_ISGID) & ~bs->st_mode);
	return 0;
}

/* dir_ino returns the inode number of directory descriptor fd when it is
 * a directory of the mount (its device is the view's), else 0. The
 * kernel's FUSE inode keeps its number: AT_STATX_DONT_SYNC asks it
 * without a round trip to the daemon. */
static uint64_t dir_ino(int fd)
{
	struct statx sx;
	long r = &fl_tramp && fl_tramp
			 ? fl_tramp(SYS_statx, fd, (long)"", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, (long)&sx, 0)
			 : syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &sx);
	uint64_t dev = v64(flc_view, FLV_HDR_DEV);
	if (r != 0 || !S_ISDIR(sx.stx_mode) || sx.stx_dev_major != major(dev) || sx.stx_dev_minor != minor(dev))
		return 0;
	return sx.stx_ino;
}

/* under returns the rest of p after the mount's path when p names the
 * mount or lies beneath it literally, else NULL. */
static const char *under(const char *p)
{
	if (strncmp(p, flc_mount, flc_mount_len) != 0 || (p[flc_mount_len] != '/' && p[flc_mount_len] != '\0'))
		return NULL;
	return p + flc_mount_len;
}

/* build writes into w (cap bytes) the path a call names relative to the
 * root of the mount: an absolute path must name the mount literally (one
 * that reaches it through "..", "//" or a symlink is the kernel's walk);
 * a relative one is joined to the working directory, which the kernel
 * gives as a clean absolute path. 0, or -1 to pass. */
static int build(char *w, size_t cap, const char *path)
{
	size_t pl = strlen(path);
	if (path[0] == '/') {
		const char *rel = under(path);
		if (!rel || pl + 1 > cap)
			return -1;
		memcpy(w, rel, strlen(rel) + 1);
		return 0;
	}
	long r = syscall(SYS_getcwd, w, cap);
	if (r <= 0 || w[0] != '/')
		return -1;
	const char *rel = under(w);
	if (!rel)
		return -1;
	size_t cl = strlen(rel);
	if (cl + 1 + pl + 1 > cap)
		return -1;
	memmove(w, rel, cl);
	w[cl] = '/';
	memcpy(w + cl + 1, path, pl + 1);
	return 0;
}

/* build_cwd is build for a relative path when w already holds the
 * working directory, cl bytes of it, as the route got it from getcwd
 * (struct fl_place): the same test and the same result, one getcwd
 * fewer. */
static int build_cwd(char *w, size_t cap, size_t cl, const char *path)
{
	if (cl < flc_mount_len || memcmp(w, flc_mount, flc_mount_len) != 0 ||
	    (cl > flc_mount_len && w[flc_mount_len] != '/'))
		return -1;
	size_t rl = cl - flc_mount_len, pl = strlen(path);
	if (rl + 1 + pl + 1 > cap)
		return -1;
	memmove(w, w + flc_mount_len, rl);
	w[rl] = '/';
	memcpy(w + rl + 1, path, pl + 1);
	return 0;
}

_Static_assert(FL_PLACE_PATH == FLV_SPLICE && FL_PLACE_SIZE == FLV_SPLICE + 4096,
	       "struct fl_place's buffer is the walk's");

/* resolve is flv_resolve with w, FLV_SPLICE + 4096 bytes to build the
 * path in (the path relative to the root of the mount, after FLV_SPLICE
 * bytes of room for symlink targets), and what the route learned (pl,
 * or NULL: ask the kernel). */
static __attribute__((noinline)) long resolve(int dirfd, const char *path, int follow, int want, struct vattr *a,
					      char *buf, size_t len, char **segp, int *pinp, char *w,
					      const struct fl_place *pl)
{
	const size_t wsize = FLV_SPLICE + 4096;
	char *seg = flc_view_seg();
	if (!seg || !path || !flc_mount_len)
		return FL_PASS;
	struct vb b;
	if (!flv_vb_init(&b))
		return FL_PASS;
	int nopin = -1;
	if (!pinp)
		pinp = &nopin;
	*pinp = -1;
	uint64_t start = 0;
	if (dirfd != AT_FDCWD) {
		if (path[0] == '/' || path[0] == '\0' || dirfd < 0)
			return FL_PASS;
		if (pl && pl->dir_ino) {
			/* The route's statx of dirfd, in the caller's own
			 * descriptor table: a vfork child (which the route
			 * admits, fl_token) places its own descriptor, and the
			 * view's answers from there hold for it as its
			 * working directory's do. */
			if (pl->dir_dev != v64(flc_view, FLV_HDR_DEV))
				return FL_PASS;
			start = pl->dir_ino;
		} else {
			if ((pid_t)syscall(SYS_getpid) != flc_pid)
				return FL_PASS;
			if (!(start = dir_ino(dirfd)))
				return FL_PASS;
		}
	}
	*segp = seg;
	const uint64_t *seq = (const uint64_t *)(b.v + FLV_HDR_SEQ);
	for (int t = 0; t < FLV_RETRIES; t++) {
		if (start) {
			size_t pl = strlen(path);
			if (pl + 1 > wsize - FLV_SPLICE)
				return FL_PASS;
			memcpy(w + FLV_SPLICE, path, pl + 1);
		} else if (t == 0 && path[0] != '/' && pl && pl->cwd_len) {
			/* Only the first time: the walk writes over w. */
			if (build_cwd(w + FLV_SPLICE, wsize - FLV_SPLICE, pl->cwd_len, path) < 0)
				return FL_PASS;
		} else if (build(w + FLV_SPLICE, wsize - FLV_SPLICE, path) < 0) {
			return FL_PASS;
		}
		uint64_t s0 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s0 & 1) {
			__builtin_ia32_pause();
			continue;
		}
		long r = FL_PASS;
		int32_t s = -1;
		if (v32(b.v, FLV_HDR_FLAGS) & FLV_USABLE)
			r = flv_walk(&b, start, w, FLV_SPLICE, follow, &s);
		if (r == 0) {
			flv_copy_attr(&b, s, a);
			if (want == WANT_LINK) {
				size_t o = slot(&b, s);
				uint32_t tl = v32(b.v, o + FLV_INO_TLEN);
				if ((a->mode & S_IFMT) != S_IFLNK)
					r = -EINVAL;
				else if (!(a->flags & FLV_F_TARGET) || tl > FLV_TARGET_MAX ||
					 (int64_t)v64(b.v, o + FLV_INO_LINKDUE) <= flv_now_sec() + 1)
					r = FL_PASS; /* readlink would update its atime */
				else {
					a->size = tl;
					memcpy(buf, b.v + o + FLV_INO_TARGET, tl < len ? tl : len);
				}
			} else if (want == WANT_ATTR && (a->mode & S_IFMT) == S_IFREG) {
				r = backing(a);
			} else if (want == WANT_OPEN && (a->mode & S_IFMT) == S_IFDIR) {
				/* The daemon steps aside for a directory: the
				 * kernel opens it (fl_view_openat). */
				r = FL_KERNEL_PASS;
			} else if (want == WANT_OPEN) {
				/* fsimpl granted every credential reading it. */
				if ((a->mode & S_IFMT) != S_IFREG || !(a->grant & R_OK) ||
				    (*pinp = flv_pin(seg, a->ino)) < 0)
					r = FL_PASS;
			}
		}
		/* A pin is seen by the daemon, or its write by us (Dekker's
		 * order, fastlane/pins.go): a full fence between the pin's
		 * store and the sequence's load. */
		__atomic_thread_fence(*pinp >= 0 ? __ATOMIC_SEQ_CST : __ATOMIC_ACQUIRE);
		if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s0)
			return r;
		if (*pinp >= 0) {
			flc_release_id(FL_PIN_ID | (uint32_t)*pinp, 0);
			*pinp = -1;
		}
	}
	return FL_PASS;
}

static __attribute__((noinline)) long resolve_own(int dirfd, const char *path, int follow, int want,
						  struct vattr *a, char *buf, size_t len, char **segp, int *pinp)
{
	char w[FLV_SPLICE + 4096];
	return resolve(dirfd, path, follow, want, a, buf, len, segp, pinp, w, NULL);
}

long flv_resolve(int dirfd, const char *path, int follow, int want, struct vattr *a, char *buf, size_t len,
		 char **segp, int *pinp, const struct fl_place *pl)
{
	/* Two functions, so that a call with the route's buffer does not
	 * have a second one on its stack. */
	if (pl && pl->buf)
		return resolve(dirfd, path, follow, want, a, buf, len, segp, pinp, pl->buf, pl);
	return resolve_own(dirfd, path, follow, want, a, buf, len, segp, pinp);
}

void flv_hit(char *seg, int op, long r)
{
	if (r == FL_PASS)
		return;
	__atomic_fetch_add((uint64_t *)(seg + HDR_HITS + (2 * op + (r < 0)) * 8), 1, __ATOMIC_RELAXED);
}

void flv_fill_stat(struct stat *st, const struct vattr *a)
{
	/* supervisor.StatOf: the FUSE mount's device, blksize a page. */
	memset(st, 0, sizeof *st);
	st->st_dev = v64(flc_view, FLV_HDR_DEV);
	st->st_ino = a->ino;
	st->st_nlink = a->nlink;
	st->st_mode = a->mode;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim.tv_sec = a->at[0], st->st_atim.tv_nsec = a->at[1];
	st->st_mtim.tv_sec = a->mt[0], st->st_mtim.tv_nsec = a->mt[1];
	st->st_ctim.tv_sec = a->ct[0], st->st_ctim.tv_nsec = a->ct[1];
}

long fl_view_fstatat(int dirfd, const char *path, struct stat *st, int flags, const struct fl_place *pl)
{
	if (!st || (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) != 0)
		return FL_PASS;
	struct vattr a;
	char *seg = NULL;
	long r = flv_resolve(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), WANT_ATTR, &a, NULL, 0, &seg, NULL, pl);
	if (r == 0)
		flv_fill_stat(st, &a);
	if (seg)
		flv_hit(seg, VOP_STAT, r);
	return r;
}

long fl_view_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx, const struct fl_place *pl)
{
	(void)mask; /* the lanes report the basic stats whatever is asked */
	if (!stx || (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC)) != 0 ||
	    (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE || (mask & STATX__RESERVED))
		return FL_PASS;
	struct vattr a;
	char *seg = NULL;
	long r = flv_resolve(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), WANT_ATTR, &a, NULL, 0, &seg, NULL, pl);
	if (r == 0) {
		/* supervisor.StatxOf. */
		uint64_t dev = v64(flc_view, FLV_HDR_DEV);
		memset(stx, 0, sizeof *stx);
		stx->stx_mask = STATX_BASIC_STATS | STATX_MNT_ID;
		stx->stx_blksize = 4096;
		stx->stx_nlink = a.nlink;
		stx->stx_uid = a.uid;
		stx->stx_gid = a.gid;
		stx->stx_mode = (uint16_t)a.mode;
		stx->stx_ino = a.ino;
		stx->stx_size = a.size;
		stx->stx_blocks = a.blocks;
		stx->stx_atime.tv_sec = a.at[0], stx->stx_atime.tv_nsec = (uint32_t)a.at[1];
		stx->stx_mtime.tv_sec = a.mt[0], stx->stx_mtime.tv_nsec = (uint32_t)a.mt[1];
		stx->stx_ctime.tv_sec = a.ct[0], stx->stx_ctime.tv_nsec = (uint32_t)a.ct[1];
		stx->stx_rdev_major = major(a.rdev);
		stx->stx_rdev_minor = minor(a.rdev);
		stx->stx_dev_major = major(dev);
		stx->stx_dev_minor = minor(dev);
		stx->stx_mnt_id = v64(flc_view, FLV_HDR_MNTID);
	}
	if (seg)
		flv_hit(seg, VOP_STATX, r);
	return r;
}

long fl_view_faccessat(int dirfd, const char *path, int mode, int flags, const struct fl_place *pl)
{
	if ((mode & ~(R_OK | W_OK | X_OK)) != 0 || (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW)) != 0)
		return FL_PASS;
	struct vattr a;
	char *seg = NULL;
	long r = flv_resolve(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), WANT_MODE, &a, NULL, 0, &seg, NULL, pl);
	/* F_OK needs only the walk; R, W and X only what fsimpl granted every
	 * credential (fsimpl.FS.AccessAt is the walk and permissionLocked).
	 * W_OK also needs a writable mount (do_faccessat()'s EROFS), which
	 * the view's usable flag says: the daemon clears it while the mount
	 * is read-only (supervisor.mountView). access(2) checks no ETXTBSY
	 * (inode_permission() never looks at a running executable), so a
	 * program being executed answers W_OK like any file. */
	if (r == 0 && ((uint32_t)mode & ~a.grant) != 0)
		r = FL_PASS;
	if (seg)
		flv_hit(seg, VOP_ACCESS, r);
	return r;
}

long fl_view_readlinkat(int dirfd, const char *path, char *buf, size_t len, const struct fl_place *pl)
{
	if (!buf || len == 0 || len > 0x7fffffff)
		return FL_PASS;
	struct vattr a;
	char *seg = NULL;
	char tmp[FLV_TARGET_MAX];
	long r = flv_resolve(dirfd, path, 0, WANT_LINK, &a, tmp, sizeof tmp, &seg, NULL, pl);
	if (r == 0) {
		size_t n = a.size < len ? a.size : len;
		memcpy(buf, tmp, n);
		r = (long)n;
	}
	if (seg)
		flv_hit(seg, VOP_READLINK, r);
	return r;
}
