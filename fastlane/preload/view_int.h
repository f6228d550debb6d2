/* view_int.h: what the metadata view's reader (view_walk.c) and its calls
 * (view.c) share. Not an interface: the entry side sees view.h only. */
#pragma once
#include "channel_int.h"
#include "view.h"

/* Room in front of a path for the symlink targets spliced into it. */
#define FLV_SPLICE 1024

static inline uint32_t v32(const char *v, size_t off) { return __atomic_load_n((const uint32_t *)(v + off), __ATOMIC_RELAXED); }
static inline uint64_t v64(const char *v, size_t off) { return __atomic_load_n((const uint64_t *)(v + off), __ATOMIC_RELAXED); }

/* The bounds of the mapped view, read from its header at each call (they
 * never change, but are never trusted without a check against the size). */
struct vb {
	const char *v;
	size_t size;
	uint32_t slots, buckets, dents, ibuckets;
	uint64_t slots_off, buck_off, dents_off, ibuck_off;
};

/* vb_init reads the bounds of the mapped view; 0 when they do not fit it. */
int flv_vb_init(struct vb *b);

/* slot returns the offset of slot s, or 0 when s is out of range. */
static inline size_t slot(const struct vb *b, int32_t s)
{
	if (s < 0 || (uint32_t)s >= b->slots)
		return 0;
	return b->slots_off + (size_t)s * FLV_SLOT_SIZE;
}

/* flv_now_sec is CLOCK_REALTIME's seconds. */
long flv_now_sec(void);

/* flv_walk resolves the path in w[pos..] (NUL-terminated, w has FLV_SPLICE
 * bytes of room before pos at the start) from the directory of inode
 * start (0: the root of the mount), as fsimpl's walker does, and stores
 * the slot it names in *out. It returns 0, -ENOENT, -ENOTDIR or FL_PASS.
 * follow: follow a symlink in the last component. */
long flv_walk(const struct vb *b, uint64_t start, char *w, size_t pos, int follow, int32_t *out);

/* slot_of_ino finds the slot of inode ino through the inode-number hash,
 * -1 when it is not there (or the chain is torn). */
int32_t flv_slot_of_ino(const struct vb *b, uint64_t ino);

/* The attributes a call reports, copied out of the view in one turn of
 * the sequence (flv_copy_attr: those of slot s). */
struct vattr {
	uint64_t ino, rdev, size, blocks;
	uint32_t mode, nlink, uid, gid, flags, grant, priv;
	int64_t at[2], mt[2], ct[2];
};
void flv_copy_attr(const struct vb *b, int32_t s, struct vattr *a);

/* flv_backing_attr completes a regular file's attributes from its backing
 * file's struct stat, as fsimpl's attrLocked does: size, blocks, atime
 * and mtime are the backing file's, ctime the later of the two, and
 * setuid/setgid that the backing file lost are gone. 0, or FL_PASS (not
 * the backing file, or attributes that writers outside fsimpl change). */
long flv_backing_attr(struct vattr *a, const struct stat *bs);
/* flv_fill_stat is supervisor.StatOf of a. */
void flv_fill_stat(struct stat *st, const struct vattr *a);

/* What a view call wants from the inode its walk found: all attributes,
 * the mode and grant alone (access: a backing file holds neither), the
 * symlink target, or a regular file every credential may read, pinned
 * (or a directory, which only the kernel opens). */
enum { WANT_ATTR, WANT_MODE, WANT_LINK, WANT_OPEN };

/* flv_resolve walks (dirfd, path) and copies out what want asks for: the
 * attributes into *a (regular files completed from the backing file), or
 * for WANT_LINK the target into buf (at most len bytes; *a->size is its
 * length), or for WANT_OPEN the pin entry it took into *pinp (-1: none;
 * the pin was seen with the walk's sequence unchanged). It returns 0,
 * -errno or FL_PASS, or for WANT_OPEN of a directory FL_KERNEL_PASS;
 * *segp is the segment to count a hit in. pl: what the route learned
 * (preload.h), whose buffer the walk then uses, or NULL. */
long flv_resolve(int dirfd, const char *path, int follow, int want, struct vattr *a, char *buf, size_t len,
		 char **segp, int *pinp, const struct fl_place *pl);

/* flv_backing_name writes ino's backing file name (fsimpl.BackingName:
 * lower-case hex, no leading zeros) into name. */
void flv_backing_name(char name[24], uint64_t ino);

/* flv_pin takes a free entry of the segment's pin table for ino and
 * returns its index, or -1 when the table is full. */
int flv_pin(char *seg, uint64_t ino);

/* flv_hit counts an answer of view op op (fastlane viewOp*) in the
 * segment. */
void flv_hit(char *seg, int op, long r);
enum { VOP_STAT, VOP_STATX, VOP_ACCESS, VOP_READLINK, VOP_OPEN, VOP_FSTAT };
