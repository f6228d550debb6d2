/* view.h: the fast lane's metadata view, read in-process (view.c).
 *
 * The layout is fsimpl/view_layout.go's (TestViewLayoutMatchesC compares
 * them); the design is in fsimpl/view.go and fastlane/view.go. The
 * daemon writes the view under a seqlock; the library maps it read-only
 * and answers the stat family, access and readlink from it, or returns
 * FL_PASS (channel.h) for the channel to answer. */
#pragma once
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "channel.h"

enum {
	FLV_MAGIC = 0x57565442,
	FLV_VERSION = 1,

	FLV_HDR_MAGIC = 0,
	FLV_HDR_VERSION = 4,
	FLV_HDR_SEQ = 8,
	FLV_HDR_FLAGS = 16,
	FLV_HDR_SLOTS = 20,
	FLV_HDR_BUCKETS = 24,
	FLV_HDR_DENTS = 28,
	FLV_HDR_DEV = 32,
	FLV_HDR_MNTID = 40,
	FLV_HDR_ROOT = 48,
	FLV_HDR_SLOTS_OFF = 56,
	FLV_HDR_BUCK_OFF = 64,
	FLV_HDR_DENTS_OFF = 72,
	FLV_HDR_SIZE = 80,
	FLV_HDR_IBUCK_OFF = 88,
	FLV_HDR_IBUCKETS = 96,
	FLV_HEADER_BYTES = 4096,

	FLV_SLOT_SIZE = 256,
	FLV_INO_INO = 0,
	FLV_INO_MODE = 8,
	FLV_INO_NLINK = 12,
	FLV_INO_UID = 16,
	FLV_INO_GID = 20,
	FLV_INO_RDEV = 24,
	FLV_INO_SIZE = 32,
	FLV_INO_BLOCKS = 40,
	FLV_INO_ATIME = 48,
	FLV_INO_MTIME = 64,
	FLV_INO_CTIME = 80,
	FLV_INO_PARENT = 96,
	FLV_INO_FLAGS = 100,
	FLV_INO_GRANT = 104,
	FLV_INO_PRIV = 108,
	FLV_INO_LINKDUE = 112,
	FLV_INO_TLEN = 120,
	FLV_INO_NEXT = 124,
	FLV_INO_TARGET = 128,
	FLV_TARGET_MAX = FLV_SLOT_SIZE - FLV_INO_TARGET,

	FLV_DENT_SIZE = 64,
	FLV_DENT_DIR = 0,
	FLV_DENT_CHILD = 4,
	FLV_DENT_NEXT = 8,
	FLV_DENT_NAMELEN = 12,
	FLV_DENT_NAME = 16,
	FLV_NAME_MAX = FLV_DENT_SIZE - FLV_DENT_NAME,

	FLV_USABLE = 1,

	FLV_F_INCOMPLETE = 1,
	FLV_F_SEARCH_ALL = 2,
	FLV_F_FOLLOW_ALL = 4,
	FLV_F_VOLATILE = 8,
	FLV_F_TARGET = 16,

	/* A reader's retries when the writer moved underneath
	 * (fsimpl viewRetries), and the symlinks one walk follows. */
	FLV_RETRIES = 8,
	FLV_MAX_LINKS = 40,
};

/* The view's dentry hash: FNV-1a over the directory's slot (four bytes,
 * little-endian), then the name (fsimpl viewHash). */
static inline uint32_t flv_hash(int32_t dir, const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 4; i++) {
		h ^= (uint32_t)(uint8_t)((uint32_t)dir >> (8 * i));
		h *= 16777619u;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u;
	}
	return h;
}

struct statx;

/* FL_VIEW_OR is the view's answer, or when it passes, the channel's. */
#define FL_VIEW_OR(view, chan)                                                                     \
	({                                                                                         \
		long v_ = (view);                                                                  \
		v_ == FL_PASS ? (chan) : v_;                                                       \
	})

/* The view's calls, for paths the entry side routed to the channel: each
 * answers as the channel would (the same struct stat and statx bytes, the
 * same errno), or returns FL_PASS. pl is what the route learned placing
 * the call (preload.h, fl_route_at), or NULL. */
/* struct fl_place is what the entry side's route (preload.c,
 * fl_route_at) learned while placing a call, for the view to start from
 * instead of asking the kernel again: each thing it holds cost a syscall
 * to learn (getcwd, a statx of the directory descriptor), about as much as
 * the whole answer from the view. The caller provides buf, FL_PLACE_SIZE
 * bytes of its stack; the route works in buf + FL_PLACE_PATH, and the
 * view then builds the path it walks in all of buf (the first
 * FL_PLACE_PATH bytes are its room for symlink targets, FLV_SPLICE). One
 * buffer for both keeps a call's stack as deep as it was with one buffer
 * each: a signal handler may run on a small alternate stack. */
struct fl_place {
	char *buf;
	/* > 0: buf[FL_PLACE_PATH, FL_PLACE_PATH + cwd_len) still holds the
	 * working directory getcwd gave the route (clean and absolute, not
	 * NUL-terminated): a relative path from AT_FDCWD, routed to the
	 * channel. */
	size_t cwd_len;
	/* > 0: dirfd is a directory on the mount (FL_MOUNTFD) whose inode
	 * number the kernel gave as dir_ino, on device dir_dev. */
	uint64_t dir_ino, dir_dev;
};
#define FL_PLACE_PATH 1024
#define FL_PLACE_SIZE (FL_PLACE_PATH + 4096)

long fl_view_fstatat(int dirfd, const char *path, struct stat *st, int flags, const struct fl_place *pl);
long fl_view_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx,
		   const struct fl_place *pl);
long fl_view_faccessat(int dirfd, const char *path, int mode, int flags, const struct fl_place *pl);
long fl_view_readlinkat(int dirfd, const char *path, char *buf, size_t len, const struct fl_place *pl);
/* openat of an existing regular file for reading (view_open.c): the
 * backing file opened in-process, its inode pinned, or FL_PASS; of a
 * directory, FL_KERNEL_PASS (the kernel opens it). */
long fl_view_openat(int dirfd, const char *path, int flags, const struct fl_place *pl);
/* fstat of a descriptor on the backing file of inode ino, whose own
 * struct stat is *bs. */
long fl_view_fstat(uint64_t ino, const struct stat *bs, struct stat *st);
