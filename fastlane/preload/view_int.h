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
