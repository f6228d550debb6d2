/* view_open.c: openat of an existing regular file for reading, and fstat
 * of the descriptors the library opened, answered from the metadata view
 * (view.h) inside the process, without a round trip.
 *
 * An open is served here only when the daemon's own open would be a
 * plain one: read-only, no O_CREAT, O_TRUNC, O_NOATIME, O_SYNC, O_DIRECT
 * or O_PATH (the channel and the kernel keep those), every directory on
 * the way searchable and every symlink followable by every credential
 * (view_walk.c), and a regular file fsimpl grants every credential
 * reading (FLV_INO_GRANT). fsimpl.OpenAt records nothing else for such an
 * open than the open itself (inode.opens), which the pin stands for
 * (fastlane/pins.go): the walk, the pin and a sequence that did not move
 * make the moment the open takes effect; the backing file is opened by
 * its name after that, and the pin keeps the inode, and so that name,
 * until the last descriptor on it is closed.
 *
 * fstat of a descriptor the library opened (from the view or through the
 * channel) is the view's attributes of its inode completed from the
 * descriptor's own struct stat, as fsimpl's GetAttr completes them from
 * the backing file. */
#define _GNU_SOURCE
#include "view_int.h"

static int pin_hint;

int flv_pin(char *seg, uint64_t ino)
{
	uint64_t *pins = (uint64_t *)(seg + HDR_PINS);
	int h = __atomic_load_n(&pin_hint, __ATOMIC_RELAXED);
	for (int i = 0; i < FL_MAX_PINS; i++) {
		int k = (h + i) % FL_MAX_PINS;
		uint64_t free = 0;
		if (__atomic_load_n(&pins[k], __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&pins[k], &free, ino, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			__atomic_store_n(&pin_hint, (k + 1) % FL_MAX_PINS, __ATOMIC_RELAXED);
			return k;
		}
	}
	return -1;
}

uint64_t flc_unpin(uint32_t k)
{
	char *seg = flc_segment();
	if (!seg || k >= FL_MAX_PINS)
		return 0;
	uint64_t old = __atomic_exchange_n((uint64_t *)(seg + HDR_PINS) + k, 0, __ATOMIC_SEQ_CST);
	if (!(old & FL_PIN_HELD))
		return 0;
	return FL_UNPIN | (old & ~FL_PIN_HELD);
}

void flv_backing_name(char name[24], uint64_t x)
{
	char tmp[24];
	int k = 0;
	do {
		tmp[k++] = "0123456789abcdef"[x & 15];
		x >>= 4;
	} while (x);
	for (int i = 0; i < k; i++)
		name[i] = tmp[k - 1 - i];
	name[k] = '\0';
}

static long sys(long nr, long a, long b, long c)
{
	if (&fl_tramp && fl_tramp)
		return fl_tramp(nr, a, b, c, 0, 0, 0);
	long r = syscall(nr, a, b, c);
	return r < 0 ? -errno : r;
}

/* The flags an open from the view takes: the rest go to the channel. */
#define VIEW_OPEN_FLAGS (O_ACCMODE | O_CLOEXEC | O_NONBLOCK | O_LARGEFILE | O_NOFOLLOW | O_NOCTTY)

long fl_view_openat(int dirfd, const char *path, int flags, const struct fl_place *pl)
{
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & ~VIEW_OPEN_FLAGS) || !flc_fds || flc_backdir < 0)
		return FL_PASS;
	/* A vfork child runs on its parent's memory, with its own
	 * descriptors: it must not pin or record in its parent's tables. */
	if ((pid_t)syscall(SYS_getpid) != flc_pid)
		return FL_PASS;
	struct vattr a;
	char *seg = NULL;
	int k = -1;
	int saved = errno;
	long r = flv_resolve(dirfd, path, !(flags & O_NOFOLLOW), WANT_OPEN, &a, NULL, 0, &seg, &k, pl);
	/* A directory: the daemon would answer Kernel (fsimpl steps aside
	 * for directories), so the library asks the kernel at once, whose
	 * answer through the FUSE mount is the one to give whatever the view
	 * saw (a program that opens a directory without O_DIRECTORY, as
	 * sqlite does to fsync it, pays no round trip). Not a hit: the
	 * kernel answers it, as an O_DIRECTORY open. */
	if (r == FL_KERNEL_PASS) {
		errno = saved;
		return r;
	}
	/* A credential change stops the view before it proceeds: seen
	 * still set after the pin, the open came before it. */
	if (r == 0 && ld(seg, HDR_VIEW_WALK) != 1)
		r = FL_PASS;
	struct stat bd, sb;
	if (r == 0 && (syscall(SYS_fstat, flc_backdir, &bd) != 0 || bd.st_dev != flc_backdir_dev ||
		       bd.st_ino != flc_backdir_ino))
		r = FL_PASS; /* the program closed the backing directory's number */
	if (r == 0) {
		char name[24];
		flv_backing_name(name, a.ino);
		long bfl = (flags & (O_ACCMODE | O_NONBLOCK | O_CLOEXEC)) | O_NOFOLLOW | O_LARGEFILE;
		long fd = sys(SYS_openat, flc_backdir, (long)name, bfl);
		if (fd >= 0 && (fd >= FL_MAX_FDS || syscall(SYS_fstat, fd, &sb) != 0 || sb.st_dev != flc_backdir_dev)) {
			syscall(SYS_close, fd);
			fd = FL_PASS;
		}
		if (fd >= 0) {
			struct fl_fd *e = &flc_fds[fd];
			e->pid = flc_pid;
			e->dev = sb.st_dev;
			e->ino = sb.st_ino;
			e->shared = 0;
			e->vino = a.ino;
			__atomic_store_n(&e->id, FL_PIN_ID | (uint32_t)k, __ATOMIC_SEQ_CST);
			flc_fd_seen((int)fd);
			k = -1;
		}
		/* EMFILE and ENFILE are the kernel's answer too; anything
		 * else the channel sorts out. */
		r = fd >= 0 || fd == -EMFILE || fd == -ENFILE ? fd : FL_PASS;
	}
	if (k >= 0)
		flc_release_id(FL_PIN_ID | (uint32_t)k, 0);
	if (seg)
		flv_hit(seg, VOP_OPEN, r);
	errno = saved;
	return r;
}

long fl_view_fstat(uint64_t ino, const struct stat *bs, struct stat *st)
{
	char *seg = flc_view_seg();
	struct vb b;
	if (!ino || !seg || !flv_vb_init(&b))
		return FL_PASS;
	const uint64_t *seq = (const uint64_t *)(b.v + FLV_HDR_SEQ);
	for (int t = 0; t < FLV_RETRIES; t++) {
		uint64_t s0 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s0 & 1) {
			__builtin_ia32_pause();
			continue;
		}
		long r = FL_PASS;
		struct vattr a;
		int32_t s = flv_slot_of_ino(&b, ino);
		if (s >= 0 && (v32(b.v, FLV_HDR_FLAGS) & FLV_USABLE)) {
			flv_copy_attr(&b, s, &a);
			if (a.ino == ino && (a.mode & S_IFMT) == S_IFREG)
				r = flv_backing_attr(&a, bs);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(seq, __ATOMIC_RELAXED) != s0)
			continue;
		if (r == 0)
			flv_fill_stat(st, &a);
		flv_hit(seg, VOP_FSTAT, r);
		return r;
	}
	return FL_PASS;
}

int flv_unlinked(uint64_t ino)
{
	struct vb b;
	if (!ino || !flc_view || !flv_vb_init(&b))
		return 0;
	const uint64_t *seq = (const uint64_t *)(b.v + FLV_HDR_SEQ);
	for (int t = 0; t < FLV_RETRIES; t++) {
		uint64_t s0 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s0 & 1)
			continue;
		int32_t s = flv_slot_of_ino(&b, ino);
		int r = s >= 0 && v32(b.v, slot(&b, s) + FLV_INO_NLINK) == 0;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s0)
			return r;
	}
	return 0;
}
