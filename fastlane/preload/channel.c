/* channel.c: the library's side of the fast lane's shared-memory channel
 * (the daemon's side and the design: package fastlane, doc.go).
 *
 * Each fl_* call takes the calling thread's slot in the process's segment,
 * writes the request, rings the daemon's doorbell, spins briefly and then
 * sleeps on the slot's state word until the reply is there. Whatever the
 * channel cannot do is FL_PASS: the caller then makes the ordinary
 * syscall, which the seccomp lane serves. Nothing here calls a libc
 * function that the entry side interposes (close, open, stat...): its own
 * syscalls are made with syscall(2). */
#define _GNU_SOURCE
#include "channel_int.h"
#include "view.h"

/* The state channel_int.h describes. */
int flc_backdir = -1;
dev_t flc_backdir_dev;
ino_t flc_backdir_ino;
struct fl_fd *flc_fds;
const char *flc_view;
size_t flc_view_size;
const char *flc_mount = "";
size_t flc_mount_len;

/* The process's channel: FL_NONE until the first call handshakes, FL_BUSY
 * while one thread does (the others pass meanwhile), FL_READY, or FL_OFF
 * for good (no socket, refused, or the daemon gone). */
enum { FL_NONE, FL_BUSY, FL_READY, FL_OFF };

static int fl_state = FL_OFF;
static char fl_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char *fl_seg;       /* the mapped segment, when FL_READY */
int fl_ctl = -1;           /* the connection to the daemon */
int fl_bell = -1;          /* the bell socket: a byte written wakes the daemon's worker */
static uint32_t fl_ring;   /* the doorbell's session id (HDR_DOORBELL), 0: not to ring */
static int fl_ring_off;    /* BTFUSE_FAST_RING=0: never ring (the sleep on the slot alone) */
static long fl_rings;      /* requests the doorbell served (fl_channel_rings) */
pid_t flc_pid;             /* the process that handshaked */
static pid_t fl_owner;     /* the process the channel belongs to (set at init and in a fork child) */
static int fl_spin_max_ns; /* 0 on a single CPU */
static int fl_spin_ns;     /* the adaptive bound, <= fl_spin_max_ns */
static pthread_key_t fl_key;

/* A handshake costs many calls' worth (a connection to the daemon, a new
 * segment), which a short-lived program never earns back: the first
 * fl_after calls of a process (BTFUSE_FAST_AFTER, default FL_AFTER) pass
 * to the seccomp lane, and the handshake comes with the next. */
#define FL_AFTER 8
static int fl_after = FL_AFTER;
static int fl_until;




/* The calling thread's slot, its TID when it claimed it, and whether a
 * call of this thread is under way (a signal handler that calls in then
 * passes instead of reusing the slot).
 *
 * FL_TLS: the library is loaded at start (LD_PRELOAD), so its thread
 * variables sit in the static TLS block at a fixed offset from the thread
 * pointer: the initial-exec model reaches them with one load, where the
 * default (general-dynamic, for libraries that may be dlopen()ed) calls
 * __tls_get_addr, whose lazy binding is a symbol lookup through every
 * loaded object in each process and in each fork child that touches them
 * first. */
#define FL_TLS __thread __attribute__((tls_model("initial-exec")))
static FL_TLS char *t_slot;
static FL_TLS pid_t t_tid;
static FL_TLS int t_busy;
static FL_TLS int t_errno; /* the caller's errno, given back at the end of a call */

#define SPIN_MAX_NS 20000 /* gVisor's bound: never more than ~20 us */
#define SPIN_MIN_NS 1000
#define WAIT_NS 50000000 /* a sleeper looks whether the daemon is alive every 50 ms */


static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	/* Shared futexes: the daemon is another process. */
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static void sys_close(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void release_slot(void *p)
{
	char *s = p;
	pid_t tid = t_tid;
	if (s && __atomic_load_n(word(s, SLOT_STATE), __ATOMIC_SEQ_CST) == S_IDLE)
		__atomic_compare_exchange_n(word(s, SLOT_OWNER), (uint32_t *)&tid, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	t_slot = NULL;
}

int fl_channel_init(const char *mount)
{
	/* The daemon judges paths itself; the view's reader walks them. The
	 * entry side's copy is kept, not copied again: a page fewer that
	 * every process writes at start. */
	flc_mount = mount;
	flc_mount_len = strlen(mount);
	const char *sock = getenv("BTFUSE_FAST_SOCKET");
	if (!sock || !*sock || strlen(sock) >= sizeof(fl_sock))
		return -ENOENT;
	strcpy(fl_sock, sock);
	const char *after = getenv("BTFUSE_FAST_AFTER");
	if (after && *after >= '0' && *after <= '9')
		fl_after = atoi(after);
	fl_until = fl_after;
	const char *ring = getenv("BTFUSE_FAST_RING");
	fl_ring_off = ring && !strcmp(ring, "0");
	int e = pthread_key_create(&fl_key, release_slot);
	if (e != 0)
		return -e;
	fl_owner = (pid_t)syscall(SYS_getpid);
	__atomic_store_n(&fl_state, FL_NONE, __ATOMIC_SEQ_CST);
	return 0;
}

void fl_channel_atfork_child(void)
{
	/* The segment is MADV_DONTFORK: it is not mapped here. The
	 * connection is the parent's; the child makes its own. */
	fl_owner = (pid_t)syscall(SYS_getpid);
	int state = __atomic_load_n(&fl_state, __ATOMIC_SEQ_CST);
	if (state == FL_OFF && fl_seg == NULL && fl_ctl < 0)
		return;
	if (state == FL_NONE && fl_seg == NULL && fl_ctl < 0 && fl_bell < 0 && flc_backdir < 0 && !flc_view &&
	    !fl_ring && !t_slot && !t_tid && !t_busy) {
		/* A parent that never handshaked (most processes, and every
		 * shell that only forks and execs) left nothing to forget:
		 * the child writes nothing it need not, since each page it
		 * writes first is a copy (the parent's are copy-on-write). */
		if (fl_until != fl_after)
			fl_until = fl_after;
		return;
	}
	sys_close(fl_ctl);
	fl_ctl = -1;
	sys_close(fl_bell);
	fl_bell = -1;
	fl_ring = 0;
	/* The backing directory is kept: the child's handshake may bring it
	 * again; until then it is not used (fl_seg is NULL). */
	sys_close(flc_backdir);
	flc_backdir = -1;
	/* The view is MADV_DONTFORK too: not mapped here. */
	flc_view = NULL;
	fl_seg = NULL;
	t_slot = NULL;
	t_tid = 0;
	t_busy = 0;
	fl_until = fl_after;
	__atomic_store_n(&fl_state, fl_sock[0] ? FL_NONE : FL_OFF, __ATOMIC_SEQ_CST);
}

int fl_channel_mine(void)
{
	return (pid_t)syscall(SYS_getpid) == fl_owner;
}

int fl_channel_ready(void)
{
	return __atomic_load_n(&fl_state, __ATOMIC_SEQ_CST) == FL_READY;
}

char *flc_segment(void)
{
	return fl_seg;
}

/* How often a process that answers from the view looks whether the daemon
 * is still there (the view and the backing files outlive it). */
#define ALIVE_NS 10000000

static int daemon_gone(void);

char *flc_view_seg(void)
{
	if (__atomic_load_n(&fl_state, __ATOMIC_ACQUIRE) != FL_READY || !flc_view)
		return NULL;
	char *seg = fl_seg;
	if (!seg || ld(seg, HDR_STATE) != STATE_SERVING || ld(seg, HDR_VIEW_WALK) != 1 || ld(seg, HDR_FAULTS) != 0)
		return NULL;
	/* A dead daemon writes nothing more, and its FUSE mount answers
	 * ENOTCONN: the view must not keep answering (nor opening its
	 * backing files) as if it served. Every ALIVE_NS the control
	 * connection is polled for the hang-up, as a waiting call does. */
	static long checked;
	long now = now_ns();
	long last = __atomic_load_n(&checked, __ATOMIC_RELAXED);
	if (now - last > ALIVE_NS || now < last) {
		__atomic_store_n(&checked, now, __ATOMIC_RELAXED);
		int saved = errno;
		int gone = daemon_gone();
		errno = saved;
		if (gone) {
			flc_turn_off();
			return NULL;
		}
	}
	return seg;
}

/* several_cpus reports whether more than one CPU is online, from the
 * kernel's list ("0", "0-1", "0,2-3"), as sysconf(_SC_NPROCESSORS_ONLN)
 * reads it. It is asked at the handshake, not in the constructor, and
 * through the trampoline: libc's own open of the file is a notification,
 * which every process would pay at start-up for a bound only the channel
 * uses. A list that cannot be read counts as one CPU (no spinning). */
static int several_cpus(void)
{
	static const char online[] = "/sys/devices/system/cpu/online";
	char b[64];
	long fd = &fl_tramp && fl_tramp ? fl_tramp(SYS_openat, AT_FDCWD, (long)online, O_RDONLY | O_CLOEXEC, 0, 0, 0)
					: syscall(SYS_openat, AT_FDCWD, online, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	long n = syscall(SYS_read, fd, b, sizeof b - 1);
	sys_close((int)fd);
	if (n <= 0)
		return 0;
	b[n] = 0;
	return strpbrk(b, ",-") != NULL;
}

/* fl_faults_live reports whether the daemon said a fault rule applies to
 * every process (HDR_FAULTS; fastlane/faults.go): nothing may then go to
 * the kernel from the trampoline, where no rule would see it. */
int fl_faults_live(void)
{
	if (__atomic_load_n(&fl_state, __ATOMIC_ACQUIRE) != FL_READY)
		return 0;
	char *seg = fl_seg;
	return seg && ld(seg, HDR_FAULTS) != 0;
}

/* fl_kernel_ok reports whether a call under the mount that the seccomp
 * lane would CONTINUE may go to the kernel from the trampoline instead:
 * not while a fault rule applies to every process. A process that has not
 * handshaked knows of no rule (the gap fastlane/faults.go names); such
 * calls do not make it handshake (a handshake made inside chdir left the
 * process without the metadata view). */
int fl_kernel_ok(void)
{
	return !fl_faults_live();
}

/* handshake connects to the daemon (channel_handshake.c). */
static int handshake(void)
{
	struct flc_conn c;
	if (flc_handshake(fl_sock, &c) < 0)
		return -1;
	fl_spin_max_ns = several_cpus() ? SPIN_MAX_NS : 0;
	fl_spin_ns = fl_spin_max_ns;
	fl_bell = c.bell;
	fl_seg = c.seg;
	fl_ctl = c.ctl;
	__atomic_store_n(&fl_ring, fl_ring_off ? 0 : ld(c.seg, HDR_DOORBELL), __ATOMIC_SEQ_CST);
	return 0;
}

/* daemon_gone reports whether the daemon hung up the connection. */
static int daemon_gone(void)
{
	struct pollfd p = {fl_ctl, POLLIN | POLLRDHUP, 0};
	long r = syscall(SYS_poll, &p, 1, 0);
	return r > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL | POLLIN));
}

void flc_turn_off(void)
{
	__atomic_store_n(&fl_state, FL_OFF, __ATOMIC_SEQ_CST);
}

/* flc_hurry makes the process's next call handshake, whatever
 * BTFUSE_FAST_AFTER says: a descriptor the seccomp lane opens stays on it
 * for its whole life (each fstat, ftruncate, fchmod of it a notification),
 * which an open for writing (a database, a log, an output file) is likely
 * to see many of. */
void flc_hurry(void)
{
	if (__atomic_load_n(&fl_state, __ATOMIC_SEQ_CST) == FL_NONE)
		__atomic_store_n(&fl_until, 0, __ATOMIC_SEQ_CST);
}

/* fl_channel_nudge counts a call that a handshake would make cheaper
 * toward BTFUSE_FAST_AFTER, as a call under the mount counts: a
 * descriptor call outside the mount (fl_fd_elsewhere) needs the backing
 * device, which comes with the handshake. */
void fl_channel_nudge(void)
{
	if (__atomic_load_n(&fl_state, __ATOMIC_SEQ_CST) != FL_NONE)
		return;
	if (flc_begin())
		flc_end();
}

/* claim returns the calling thread's slot, claiming one if needed, or NULL
 * to pass. */
static char *claim(void)
{
	int s = __atomic_load_n(&fl_state, __ATOMIC_SEQ_CST);
	if (s == FL_NONE) {
		/* A vfork child (on its parent's memory) must not handshake:
		 * the connection and the segment would be its parent's. */
		if (!fl_channel_mine())
			return NULL;
		if (__atomic_sub_fetch(&fl_until, 1, __ATOMIC_SEQ_CST) >= 0)
			return NULL;
		int want = FL_NONE;
		if (!__atomic_compare_exchange_n(&fl_state, &want, FL_BUSY, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return NULL;
		s = handshake() == 0 ? FL_READY : FL_OFF;
		__atomic_store_n(&fl_state, s, __ATOMIC_SEQ_CST);
	}
	if (s != FL_READY)
		return NULL;
	/* Who calls is checked before the segment is touched: a child forked
	 * without fl_channel_atfork_child has the parent's pointers but not
	 * its mapping (MADV_DONTFORK), and a vfork child runs on the parent's
	 * thread-local slot with a TID of its own. */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	if (t_slot) {
		if (t_tid != tid || ld(fl_seg, HDR_STATE) != STATE_SERVING)
			return NULL;
		return t_slot;
	}
	if ((pid_t)syscall(SYS_getpid) != flc_pid || ld(fl_seg, HDR_STATE) != STATE_SERVING)
		return NULL;
	for (int pass = 0; pass < 2 && !t_slot; pass++) {
		for (int i = 0; i < FL_NUM_SLOTS; i++) {
			char *sl = fl_seg + FL_SLOTS_OFF + i * FL_SLOT_SIZE;
			uint32_t owner = ld(sl, SLOT_OWNER);
			if (pass == 1 && owner != 0 && owner != (uint32_t)tid) {
				/* Take over the slot of a thread that exited
				 * without its destructor (only from idle). */
				if (syscall(SYS_tgkill, flc_pid, owner, 0) == 0 || errno != ESRCH)
					continue;
				uint32_t st_ = ld(sl, SLOT_STATE);
				if (st_ != S_IDLE && st_ != S_DONE)
					continue;
			} else if (owner != 0 && owner != (uint32_t)tid) {
				continue;
			}
			if (__atomic_compare_exchange_n(word(sl, SLOT_OWNER), &owner, (uint32_t)tid, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				st(sl, SLOT_STATE, S_IDLE);
				/* A new thread may have the TID of one that
				 * exited: the daemon keeps a thread's
				 * credentials only while its slot's claim is
				 * the one it saw. */
				__atomic_add_fetch(word(sl, SLOT_CLAIM), 1, __ATOMIC_SEQ_CST);
				t_slot = sl;
				t_tid = tid;
				pthread_setspecific(fl_key, sl);
				break;
			}
		}
	}
	return t_slot;
}

int flc_has_slot(void)
{
	return t_slot != NULL;
}

/* begin returns the slot for a call, or NULL to pass; end must follow a
 * non-NULL begin. A signal handler that calls in while this thread's call
 * is under way (or its slot is being claimed) passes. */
char *flc_begin(void)
{
	if (t_busy)
		return NULL;
	/* The channel's own syscalls (futex timeouts, a failed handshake)
	 * set errno; the caller's survives a call, as it survives a
	 * successful syscall. */
	int e = errno;
	t_busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	char *s = claim();
	if (!s) {
		errno = e;
		t_busy = 0;
	} else {
		t_errno = e;
	}
	return s;
}

void flc_end(void)
{
	errno = t_errno;
	t_busy = 0;
}

/* put_path copies path, as a path relative to dirfd, into the slot; 0
 * when it does not fit (the kernel answers ENAMETOOLONG past PATH_MAX: let
 * it).
 *
 * A path relative to the working directory (dirfd AT_FDCWD; a path
 * relative to a directory descriptor goes as it is, with the descriptor,
 * for the daemon to place) is sent absolute, joined to the working directory as
 * getcwd gives it, so that the daemon need not read /proc/TID/cwd (the
 * same string: both are the kernel's d_path of the directory). The
 * daemon then checks the directories above the mount from the root,
 * which is stricter than the kernel's walk from the working directory:
 * at worst the call passes. A working directory getcwd cannot name (it
 * was removed, or lies outside the root) or a join past PATH_MAX sends
 * the path as it is, for the daemon to judge. */
int flc_put_path(char *s, int off, int dirfd, const char *path)
{
	size_t n = strnlen(path, FL_PATH_BYTES);
	if (n >= FL_PATH_BYTES)
		return 0;
	if (path[0] != '/' && dirfd == AT_FDCWD) {
		char *d = s + off;
		long c = syscall(SYS_getcwd, d, FL_PATH_BYTES);
		if (c > 1 && d[0] == '/' && (size_t)c - 1 + 1 + n < FL_PATH_BYTES) {
			size_t k = (size_t)c - 1; /* getcwd counts the NUL */
			d[k] = '/';
			memcpy(d + k + 1, path, n + 1);
			return 1;
		}
	}
	memcpy(s + off, path, n + 1);
	return 1;
}

/* ring rings the doorbell for slot s: FL_RING_SERVED when the reply is in
 * the slot, FL_RING_NOT_TAKEN when it is not (yet): wait for it. A
 * daemon that does not answer the doorbell (ENOSYS: gone, or another
 * filter) is not rung again; a signal before the daemon took the call
 * (EINTR) rings again, so the caller never sees it. */
static int ring(char *s, uint32_t id)
{
	long idx = (s - fl_seg - FL_SLOTS_OFF) / FL_SLOT_SIZE;
	for (;;) {
		long r = syscall(FL_DOORBELL_NR, (long)id, idx, 0L, 0L, 0L, 0L);
		if (r == FL_RING_SERVED && ld(s, SLOT_STATE) == S_DONE) {
			__atomic_add_fetch(&fl_rings, 1, __ATOMIC_RELAXED);
			return FL_RING_SERVED;
		}
		if (r >= 0)
			return FL_RING_NOT_TAKEN;
		if (errno == EINTR)
			continue;
		__atomic_store_n(&fl_ring, 0, __ATOMIC_SEQ_CST);
		return FL_RING_NOT_TAKEN;
	}
}

/* call posts the request in slot s and waits for its result. */
long flc_call(char *s)
{
	st(s, SLOT_TID, (uint32_t)t_tid);
	st(s, SLOT_WAITING, 0);
	st(s, SLOT_STATE, S_REQUEST);
	__atomic_add_fetch(word(fl_seg, HDR_BELL), 1, __ATOMIC_SEQ_CST);
	/* The doorbell: one notification, which the daemon answers on this
	 * CPU. */
	uint32_t id = __atomic_load_n(&fl_ring, __ATOMIC_SEQ_CST);
	if (id && ring(s, id) == FL_RING_SERVED)
		return (long)__atomic_load_n((int64_t *)(s + SLOT_RESULT), __ATOMIC_SEQ_CST);
	/* A sleeping worker needs a wake-up, which takes longer than a spin
	 * is worth: sleep at once. */
	int cold = ld(fl_seg, HDR_SLEEPING);
	if (cold) {
		/* A full socket means the worker has bytes to wake for. */
		char b = 1;
		syscall(SYS_sendto, fl_bell, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
	}
	int spun = 0;
	long t0 = fl_spin_max_ns > 0 ? now_ns() : 0;
	if (fl_spin_ns > 0 && !cold) {
		long deadline = t0 + fl_spin_ns;
		for (int i = 1;; i++) {
			if (ld(s, SLOT_STATE) == S_DONE) {
				spun = 1;
				break;
			}
			__builtin_ia32_pause();
			if ((i & 63) == 0 && now_ns() > deadline)
				break;
		}
	}
	if (!spun) {
		st(s, SLOT_WAITING, 1);
		for (;;) {
			uint32_t v = ld(s, SLOT_STATE);
			if (v == S_DONE)
				break;
			if (ld(fl_seg, HDR_STATE) != STATE_SERVING) {
				flc_turn_off();
				return FL_PASS;
			}
			struct timespec ts = {0, WAIT_NS};
			/* EINTR (a signal handler ran) and EAGAIN: look again. */
			if (futex(word(s, SLOT_STATE), FUTEX_WAIT, v, &ts) < 0 && errno == ETIMEDOUT && daemon_gone()) {
				flc_turn_off();
				return FL_PASS;
			}
		}
		st(s, SLOT_WAITING, 0);
	}
	/* Adapt the spin to how long replies take: one that came within the
	 * spin, or that a longer spin (up to the bound) would have caught,
	 * lengthens it; one that took longer than the bound shortens it, so
	 * that a daemon slow to wake costs little CPU here. */
	if (fl_spin_max_ns > 0 && !cold) {
		long took = now_ns() - t0;
		if (spun || took <= fl_spin_max_ns)
			fl_spin_ns = fl_spin_ns * 2 > fl_spin_max_ns ? fl_spin_max_ns : fl_spin_ns * 2;
		else if (fl_spin_ns > SPIN_MIN_NS)
			fl_spin_ns /= 2;
	}
	long r = (long)__atomic_load_n((int64_t *)(s + SLOT_RESULT), __ATOMIC_SEQ_CST);
	return r;
}

/* finish makes the slot idle again for the next call. */
void flc_finish(char *s)
{
	st(s, SLOT_STATE, S_IDLE);
	flc_end();
}

/* start_path begins a call about (dirfd, path): the daemon walks paths
 * from the root, the working directory or the directory dirfd names
 * (/proc/TID/fd/N, as the seccomp lane does). */
char *flc_start_path(int op, int dirfd, const char *path)
{
	if (!path || !path[0])
		return NULL;
	char *s = flc_begin();
	if (!s)
		return NULL;
	if (!flc_put_path(s, SLOT_PATH1, dirfd, path)) {
		flc_end();
		return NULL;
	}
	st(s, SLOT_OP, (uint32_t)op);
	st(s, SLOT_DIRFD, (uint32_t)dirfd);
	return s;
}

/* out copies the reply's data, of exactly n bytes, to dst; 0 when the
 * reply does not hold that much. */
int flc_out(char *s, void *dst, size_t n)
{
	uint32_t got = ld(s, SLOT_OUTLEN);
	if (got != n || n > FL_OUT_BYTES)
		return 0;
	memcpy(dst, s + SLOT_OUT, n);
	return 1;
}

long fl_channel_rings(void)
{
	return __atomic_load_n(&fl_rings, __ATOMIC_RELAXED);
}
