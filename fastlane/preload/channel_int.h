/* channel_int.h: what the channel's files share (channel_handshake.c:
 * joining the daemon; channel.c: the connection's state, the slots and the
 * wait; channel_ops.c and the other channel_*.c: the calls). Not an
 * interface: the entry side sees channel.h only. */
#pragma once
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The segment's layout: fastlane/channel.go (TestLayoutMatchesC). */
enum {
	FL_MAGIC = 0x4c465442,
	FL_VERSION = 4,
	FL_NUM_SLOTS = 64,
	FL_SLOT_SIZE = 16384,
	FL_SLOTS_OFF = 4096,
	FL_SEG_SIZE = FL_SLOTS_OFF + FL_NUM_SLOTS * FL_SLOT_SIZE,
	FL_PATH_BYTES = 4096,
	FL_OUT_BYTES = 4096,

	HDR_MAGIC = 0,
	HDR_VERSION = 4,
	HDR_SLOTS = 8,
	HDR_SLOT_SIZE = 12,
	HDR_SLOTS_OFF = 16,
	HDR_STATE = 20,
	HDR_BELL = 24,
	HDR_SLEEPING = 28,
	HDR_VIEW_WALK = 32,
	HDR_DOORBELL = 36,
	HDR_FAULTS = 40,
	HDR_HITS = 64,
	HDR_PINS = 1024,
	FL_MAX_PINS = 256,

	SLOT_OWNER = 0,
	SLOT_STATE = 4,
	SLOT_WAITING = 8,
	SLOT_OP = 12,
	SLOT_TID = 16,
	SLOT_DIRFD = 20,
	SLOT_DIRFD2 = 24,
	SLOT_FLAGS = 28,
	SLOT_MODE = 32,
	SLOT_MASK = 36,
	SLOT_LEN = 40,
	SLOT_RESULT = 48,
	SLOT_OUTLEN = 56,
	SLOT_NREL = 60,
	SLOT_CLAIM = 64,
	SLOT_OUTINO = 72,
	SLOT_PATH1 = 128,
	SLOT_PATH2 = SLOT_PATH1 + FL_PATH_BYTES,
	SLOT_OUT = SLOT_PATH2 + FL_PATH_BYTES,
	SLOT_REL = SLOT_OUT + FL_OUT_BYTES,
	FL_MAX_REL = 64,

	STATE_SERVING = 1,
	STATE_CLOSED = 2,

	S_IDLE = 0,
	S_REQUEST = 1,
	S_BUSY = 2,
	S_DONE = 3,

	OP_NEWFSTATAT = 1,
	OP_STATX = 2,
	OP_FACCESSAT2 = 3,
	OP_READLINKAT = 4,
	OP_OPENAT = 5,
	OP_MKDIRAT = 6,
	OP_UNLINKAT = 7,
	OP_RENAMEAT2 = 8,
	OP_FSTAT = 9,
	OP_RELEASE = 10,
	OP_LINKAT = 11,
};

/* The doorbell (fastlane/doorbell.go): a syscall no kernel has, which the
 * filter of 'btfuse run' notifies (supervisor.DoorbellNr), with the
 * session's id and the slot's index; its results. */
enum {
	FL_DOORBELL_NR = 0xbf1,
	FL_RING_SERVED = 0,
	FL_RING_NOT_TAKEN = 1,
};

/* The backing directory, when the daemon gave it (the process has its uid
 * or is full root): opens the daemon decided are made here, through it.
 * Its identity is checked before each use, in case the program closed it
 * and the number now names another directory. */
extern int flc_backdir;
extern dev_t flc_backdir_dev;
extern ino_t flc_backdir_ino;

/* The descriptors the channel opened: fd -> the daemon's id for its File,
 * and the process that opened it (a fork child inherits the table, but its
 * ids belong to its parent's session). Anonymous private memory, touched
 * only where used; descriptors past FL_MAX_FDS are not recorded. */
#define FL_MAX_FDS 65536
struct fl_fd {
	uint64_t id;
	pid_t pid;
	/* The backing file's identity: a descriptor closed or replaced
	 * behind the library's back (close_range, dup2 onto it) no longer
	 * matches, and is not answered for. */
	dev_t dev;
	ino_t ino;
	/* Set on a descriptor and its duplicates (channel_fds.c): its File is
	 * released only when no other descriptor of the process holds it. */
	int shared;
	/* The filesystem's inode number (fstat from the view), 0: unknown. */
	uint64_t vino;
};
extern struct fl_fd *flc_fds;
/* The highest descriptor ever recorded: the bound of channel_fds.c's
 * scans; flc_fd_seen raises it (threads record descriptors at once). */
extern int flc_fd_hi;
void flc_fd_seen(int fd);
/* flc_fd_id returns the daemon's id of the File behind fd, 0 when the
 * channel did not open fd in this process or fd no longer is what it
 * opened. */
uint64_t flc_fd_id(int fd);
/* flc_fd_held reports whether a descriptor of the process other than fd
 * still is the file of id. */
int flc_fd_held(int fd, uint64_t id);
/* flc_release_id lets the daemon release the File of id, or clears the
 * pin of a FL_PIN_ID id; vino is the File's inode (0: unknown). */
void flc_release_id(uint64_t id, uint64_t vino);
/* flv_unlinked reports whether the view shows inode ino with no links
 * (view_open.c; 0 when it cannot tell). */
int flv_unlinked(uint64_t ino);
/* flc_fd_id_stat is flc_fd_id, with fd's own struct stat in *sb. */
uint64_t flc_fd_id_stat(int fd, struct stat *sb);
/* flc_fd_id_claimed is flc_fd_id for a caller that holds its slot
 * (flc_begin), whose claim proved it a thread of the process the channel
 * serves: it asks no getpid. */
uint64_t flc_fd_id_claimed(int fd);
uint64_t flc_fd_id_claimed_stat(int fd, struct stat *sb);
/* flc_release_on is flc_release_id on the caller's slot s, which it ends
 * (flc_end or flc_finish); s NULL: it claims one if the release needs it. */
void flc_release_on(char *s, uint64_t id, uint64_t vino);
/* flc_has_slot reports whether the calling thread (or a vfork child on its
 * memory) holds a slot: then flc_begin costs one gettid. */
int flc_has_slot(void);

/* Pins (fastlane/pins.go): the segment's table of the inodes the process
 * opened from the view (view_open.c). A descriptor opened so has the id
 * FL_PIN_ID|entry; the daemon marks an entry FL_PIN_HELD when it kept the
 * inode for it, and is then told FL_UNPIN|ino in the release queue when
 * the entry is cleared. */
#define FL_PIN_ID (1ULL << 63)
#define FL_PIN_HELD (1ULL << 63)
#define FL_UNPIN (1ULL << 62)
/* flc_segment is the process's mapped segment, NULL before the handshake
 * (and in a fork child). */
char *flc_segment(void);
/* flc_unpin clears pin entry k and returns what the daemon must be told
 * (FL_UNPIN|ino), or 0. */
uint64_t flc_unpin(uint32_t k);

extern pid_t flc_pid; /* the process that handshaked */
extern int fl_ctl;    /* the connection to the daemon (channel.c) */
extern int fl_bell;   /* the doorbell socket (channel.c) */

/* flc_turn_off gives the channel up for good in this process. */
void flc_turn_off(void);

/* flc_handshake connects to the daemon's socket sock and maps the segment
 * it sends; 0 with c filled in (and the backing directory and view taken,
 * when they came), or -1 with nothing held. */
struct flc_conn {
	char *seg; /* the mapped segment */
	int ctl;   /* the connection, held open while the daemon serves */
	int bell;  /* the doorbell */
};
int flc_handshake(const char *sock, struct flc_conn *c);

/* flc_statx_call finishes a statx request begun in slot s (a path's or a
 * descriptor's): it sends flags and mask, waits, copies the struct statx
 * of a success to stx (FL_PASS when the reply holds none), and frees the
 * slot. */
struct statx;
long flc_statx_call(char *s, int flags, unsigned int mask, struct statx *stx);

/* The metadata view (view.h), mapped read-only at the handshake when the
 * daemon gave it (with the backing directory), and the mount as
 * BTFUSE_MOUNT names it (no trailing slash). */
extern const char *flc_view;
extern size_t flc_view_size;
extern const char *flc_mount; /* the entry side's copy of the mount (fl_channel_init) */
extern size_t flc_mount_len;

/* flc_view_seg returns the segment when the calling process may read the
 * view now (the channel is ready, the daemon serves, hdrViewWalk is set),
 * else NULL. */
char *flc_view_seg(void);

/* fl_tramp is the entry side's syscall from the trampoline page, which the
 * seccomp filter lets through without a notification; absent (a program
 * linked with this file alone), the channel's own opens use syscall(2). */
extern long (*fl_tramp)(long nr, long a, long b, long c, long d, long e, long f) __attribute__((weak));

static inline uint32_t *word(char *base, int off) { return (uint32_t *)(base + off); }

static inline uint32_t ld(char *base, int off) { return __atomic_load_n(word(base, off), __ATOMIC_SEQ_CST); }
static inline void st(char *base, int off, uint32_t v) { __atomic_store_n(word(base, off), v, __ATOMIC_SEQ_CST); }

/* flc_begin returns the calling thread's slot for a call, or NULL to pass;
 * flc_end must follow a non-NULL flc_begin (flc_finish when a request was
 * posted). */
char *flc_begin(void);
void flc_hurry(void);
void flc_end(void);
void flc_finish(char *s);
/* flc_call posts the request in slot s and waits for its result. */
long flc_call(char *s);
int flc_put_path(char *s, int off, int dirfd, const char *path);
char *flc_start_path(int op, int dirfd, const char *path);
int flc_out(char *s, void *dst, size_t n);

/* The descriptor calls on files the channel opened (channel_fdmeta.c;
 * fastlane/serve_fdmeta.go): slot words 16 on, so that path ops added
 * above keep their numbers. The File's id goes in SLOT_LEN, addresses
 * and sizes in the u64s at SLOT_ARG0..2. */
enum {
	OP_FCHMOD = 16,
	OP_FCHOWN = 17,
	OP_FSTATX = 18,
	OP_FSTATFS = 19,
	OP_FGETXATTR = 20,
	OP_FSETXATTR = 21,
	OP_FLISTXATTR = 22,
	OP_FREMOVEXATTR = 23,

	SLOT_ARG0 = SLOT_PATH1,
	SLOT_ARG1 = SLOT_PATH1 + 8,
	SLOT_ARG2 = SLOT_PATH1 + 16,
};
