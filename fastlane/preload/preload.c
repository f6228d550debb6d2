// libbtfuse-fast.so, the entry side of btfuse's fast lane. 'btfuse run'
// preloads it (LD_PRELOAD) into dynamically linked commands and passes the
// mount in BTFUSE_MOUNT. It interposes libc's path functions (path_*.c)
// and sends each call one of three ways (fl_route):
//
//   - lexically outside the mount: the syscall is made from the trampoline
//     page, whose path syscalls the seccomp filter allows without a
//     notification, so they cost what they cost natively;
//   - lexically under the mount, or relative to a directory descriptor
//     on the mount: the shared-memory channel to the daemon (channel.h),
//     and when it cannot answer (FL_PASS) the ordinary syscall, which the
//     seccomp lane serves; some call classes go to the kernel instead
//     (FL_SYSCALL and FL_ATTRCALL in preload.h say which and why);
//   - anything else (a dirfd it cannot place, an empty path, a child of
//     vfork or of a raw clone): the ordinary syscall.
//
// The lane is a speed path, never a boundary: a jump to the trampoline only
// reaches the kernel, which sends paths in the mount through the FUSE
// mount of the same filesystem. Every classification is therefore correct,
// only not equally fast, and the library never needs to be sure: when in
// doubt it makes the ordinary syscall.
//
// Everything on the call path is async-signal-safe and lock-free (a
// handler may interrupt an interposed call and make another one), and
// uses only the stack: a vfork child runs it on its parent's memory.

#define _GNU_SOURCE
#include <fcntl.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"
#include "trampoline.h"

// The syscall stub, position-independent so that the constructor can copy
// it into the trampoline page: the C calling convention's six arguments
// moved to the kernel's registers. endbr64 keeps it a valid indirect-call
// target where indirect branch tracking is on (a no-op elsewhere).
__asm__(".text\n"
	".globl fl_raw\n"
	".hidden fl_raw\n"
	".type fl_raw,@function\n"
	".globl fl_stub_end\n"
	".hidden fl_stub_end\n"
	"fl_raw:\n"
	"	endbr64\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	mov %r8, %r10\n"
	"	mov %r9, %r8\n"
	"	mov 8(%rsp), %r9\n"
	"	syscall\n"
	"	ret\n"
	"fl_stub_end:\n"
	".size fl_raw, .-fl_raw\n");
extern const char fl_stub_end[];

static long tramp_first(long nr, long a, long b, long c, long d, long e, long f);

// fl_tramp starts as tramp_first, which maps the page at the first call
// that wants it; then it is the page's stub, or fl_raw when the page could
// not be made. Stored atomically: threads may be running by then.
fl_syscall_fn fl_tramp = tramp_first;

// Set once by the constructor, before the program's main and its threads;
// only read afterwards.
static char fl_mount[PATH_MAX]; // canonical, without a trailing slash ("" = lane off)
static size_t fl_mount_len;
static int fl_channel_ok; // fl_channel_init succeeded

// fl_token points to a word that is 1 in the process the channel belongs
// to. It lives in a page the kernel zeroes in the child of any fork that
// copies the memory (MADV_WIPEONFORK), so the child of a raw fork or clone,
// which ran no fork handler and has neither the segment nor the view
// mapped (both MADV_DONTFORK), reads 0 without a syscall: a getpid costs
// about as much as the stat the view answers. A vfork child (or any clone
// sharing the memory) reads 1, and may: it shares the mappings too, the
// view's answers hold for every credential its parent's hdrViewWalk
// admits, and whatever
// is its parent's alone (the channel's slots and handshake, the
// descriptor entries, the pin table) is checked by process or thread id
// where it is touched; a credential change of such a child turns its
// parent's view off (fastlane/view.go, credChanged).
//
// The page is made once the process has handshaked (ours), in that
// process, since only then is there a segment or a view to keep a child
// off: most processes never handshake, and the page (a mapping, its first
// touch, and one more area that each fork copies) would cost every one of
// them. Until then, and on a kernel without MADV_WIPEONFORK (before 4.14),
// fl_token is NULL and fl_channel_ours asks getpid (fl_channel_mine).
static volatile int *fl_token;

// fl_token_state (atomic) makes the token page once: TOKEN_NONE, then
// TOKEN_MAPPING while one thread makes it, then TOKEN_DONE (fl_token is
// final: the page, or NULL when it could not be made).
enum { TOKEN_NONE, TOKEN_MAPPING, TOKEN_DONE };
static int fl_token_state;

// Set at the first call that needs it (mount_dev).
static dev_t fl_mount_dev;  // st_dev of the mount as the kernel shows it
static int fl_mount_dev_ok; // fl_mount_dev is set (atomic)

// The trampoline page's state (atomic): TRAMP_NONE until a call wants it,
// TRAMP_MAPPING while one thread makes it, TRAMP_DONE after (fl_tramp is
// then final).
enum { TRAMP_NONE, TRAMP_MAPPING, TRAMP_DONE };
static int fl_tramp_state;

static void fl_atfork_child(void)
{
	// A page another thread was making at the fork may be half made
	// here: the child tries again (MAP_FIXED_NOREPLACE then fails, and
	// the child makes its syscalls the ordinary way).
	if (__atomic_load_n(&fl_tramp_state, __ATOMIC_ACQUIRE) == TRAMP_MAPPING)
		__atomic_store_n(&fl_tramp_state, TRAMP_NONE, __ATOMIC_RELEASE);
	if (__atomic_load_n(&fl_token_state, __ATOMIC_ACQUIRE) == TOKEN_MAPPING)
		__atomic_store_n(&fl_token_state, TOKEN_NONE, __ATOMIC_RELEASE); // as the trampoline's
	if (fl_channel_ok)
		fl_channel_atfork_child();
	if (fl_token)
		*fl_token = 1; // the page came zeroed
}

// map_token makes the token page and publishes it in fl_token, set to 1
// first; called only in the process the channel belongs to. Raw syscalls
// that keep the caller's errno: it runs inside an interposed call. A fork
// while it runs copies fl_token NULL (the child asks getpid) or the page
// (the kernel wipes it, the fork handler sets it).
static void map_token(void)
{
	int none = TOKEN_NONE;
	if (!__atomic_compare_exchange_n(&fl_token_state, &none, TOKEN_MAPPING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	long p = fl_raw(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p < 0 && p >= -4095) {
		// no page: fl_token stays NULL
	} else if (fl_raw(SYS_madvise, p, 4096, MADV_WIPEONFORK, 0, 0, 0) != 0) {
		fl_raw(SYS_munmap, p, 4096, 0, 0, 0, 0);
	} else {
		*(volatile int *)p = 1;
		__atomic_store_n(&fl_token, (volatile int *)p, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&fl_token_state, TOKEN_DONE, __ATOMIC_RELEASE);
}

// map_trampoline copies the stub into the page at FL_TRAMPOLINE_ADDR and
// returns its address, or fl_raw when the page is taken or cannot be
// made: the library then makes every syscall the ordinary way. Raw
// syscalls: it runs inside an interposed call, which keeps the caller's
// errno, maybe in a signal handler.
static fl_syscall_fn map_trampoline(void)
{
	long want = (long)FL_TRAMPOLINE_ADDR;
	long p = fl_raw(SYS_mmap, want, FL_TRAMPOLINE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p < 0 && p >= -4095)
		return fl_raw;
	if (p != want) { // a kernel before 4.17 takes the flag as a hint
		fl_raw(SYS_munmap, p, FL_TRAMPOLINE_SIZE, 0, 0, 0, 0);
		return fl_raw;
	}
	size_t n = (size_t)(fl_stub_end - (const char *)fl_raw);
	memset((void *)p, 0xcc, FL_TRAMPOLINE_SIZE); // int3 around the stub
	memcpy((void *)p, (const void *)fl_raw, n);
	if (fl_raw(SYS_mprotect, p, FL_TRAMPOLINE_SIZE, PROT_READ | PROT_EXEC, 0, 0, 0) != 0) {
		fl_raw(SYS_munmap, p, FL_TRAMPOLINE_SIZE, 0, 0, 0, 0);
		return fl_raw;
	}
	return (fl_syscall_fn)p;
}

// tramp_first is fl_tramp until the page is made: the first call makes it
// (a new page, and the page tables to reach it, cost every process that
// maps it, and most short-lived programs never make a path call outside
// the mount through the library) and goes through it. A call that finds
// another thread, or the call its signal handler interrupted, making it
// takes the ordinary way, which is always correct.
static long tramp_first(long nr, long a, long b, long c, long d, long e, long f)
{
	int none = TRAMP_NONE;
	if (__atomic_compare_exchange_n(&fl_tramp_state, &none, TRAMP_MAPPING, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		__atomic_store_n(&fl_tramp, map_trampoline(), __ATOMIC_RELEASE);
		__atomic_store_n(&fl_tramp_state, TRAMP_DONE, __ATOMIC_RELEASE);
	}
	fl_syscall_fn fn = __atomic_load_n(&fl_tramp, __ATOMIC_ACQUIRE);
	if (fn == tramp_first)
		fn = fl_raw;
	return fn(nr, a, b, c, d, e, f);
}

__attribute__((constructor)) static void fl_init(void)
{
	const char *m = getenv("BTFUSE_MOUNT");
	if (!m || m[0] != '/')
		return; // not under 'btfuse run': the library stays out of the way
	size_t n = strlen(m);
	while (n > 1 && m[n - 1] == '/')
		n--;
	if (n >= sizeof fl_mount)
		return;
	memcpy(fl_mount, m, n);
	fl_mount[n] = '\0';
	if (pthread_atfork(NULL, NULL, fl_atfork_child) != 0)
		return; // no fork handler: no channel, a child would share it
	fl_channel_ok = fl_channel_init(fl_mount) == 0;
	fl_mount_len = n; // last: from here on, paths are classified
}

// join_clean appends the lexical normal form of path to the clean
// absolute path of len bytes in out (path alone when absolute): no empty
// or "." components, ".." taking back the one before it. It returns the
// new length, or -1 when out is too small; *low is the shortest length
// out had on the way, so out[0, *low) is still what it was.
static long join_clean(const char *path, char *out, size_t len, size_t size, size_t *low)
{
	*low = 0;
	if (path[0] == '/' || (len == 1 && out[0] == '/'))
		len = 0; // from the root
	*low = len;
	for (const char *s = path; *s;) {
		while (*s == '/')
			s++;
		const char *e = strchrnul(s, '/');
		size_t k = (size_t)(e - s);
		if (k == 0 || (k == 1 && s[0] == '.')) {
			// nothing
		} else if (k == 2 && s[0] == '.' && s[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; // the slash
			if (len < *low)
				*low = len;
		} else {
			if (len + 1 + k >= size)
				return -1;
			out[len++] = '/';
			memcpy(out + len, s, k);
			len += k;
		}
		s = e;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return (long)len;
}

// under reports whether the absolute, clean path p names the mount or lies
// beneath it.
static int under(const char *p, size_t len)
{
	if (fl_mount_len == 1)
		return 1; // mounted at /
	return len >= fl_mount_len && memcmp(p, fl_mount, fl_mount_len) == 0 &&
	       (p[fl_mount_len] == '\0' || p[fl_mount_len] == '/');
}

// mount_dev returns the mount's device as the kernel shows it, which only
// calls relative to a directory descriptor need: it is looked up at the
// first of them, not in the constructor, which every process runs (a stat
// of the mount root can be a FUSE round trip). Threads that race both
// store the same answer; one that fails is not kept (0 matches no
// directory, so the call goes to the kernel) and is asked again next time.
static dev_t mount_dev(void)
{
	if (__atomic_load_n(&fl_mount_dev_ok, __ATOMIC_ACQUIRE))
		return fl_mount_dev;
	struct stat st;
	if (fl_tramp(SYS_newfstatat, AT_FDCWD, (long)fl_mount, (long)&st, 0, 0, 0) != 0)
		return 0;
	fl_mount_dev = st.st_dev;
	__atomic_store_n(&fl_mount_dev_ok, 1, __ATOMIC_RELEASE);
	return st.st_dev;
}

// fl_fd_elsewhere reports whether descriptor fd is open on a filesystem
// that is neither the backing files' nor the mount's: a descriptor call
// the channel passed on may then go to the kernel from the trampoline,
// which reaches fd's own file, as the call would without btfuse. Any other
// must be notified, for the seccomp lane to serve it: a backing file the
// library does not own (a fork or vfork child's inherited copy, one kept
// across exec or received by SCM_RIGHTS) or a served descriptor of the
// seccomp lane, whose fstat it answers with the mount's device. 0 when
// not sure: standard descriptors (notified from anywhere), a process that
// has not learned the backing device (the call counts toward its
// handshake), live fault rules.
//
// Between the fstat and the call another thread may replace fd by a
// backing file (dup2); the call then reaches the backing file natively,
// which the kernel's order of the two calls would not allow. Accepted:
// without it every fchmod, fchown and f*xattr call outside the mount
// would cost a round trip.
int fl_fd_elsewhere(int fd)
{
	dev_t back, mnt;
	if (fd <= 2 || fl_faults_live())
		return 0;
	if (!fl_backing_dev(&back)) {
		fl_channel_nudge();
		if (!fl_backing_dev(&back))
			return 0;
	}
	if (!(mnt = mount_dev()))
		return 0;
	struct stat sb;
	int saved = errno;
	int r = syscall(SYS_fstat, fd, &sb) == 0 && sb.st_dev != back && sb.st_dev != mnt;
	errno = saved;
	return r;
}

// fl_channel_ours reports whether this process may use the channel and
// the view: the child of a raw fork or clone (no fork handler ran) must
// not touch its parent's, which are not mapped there (see fl_token for
// what a vfork child may use).
static int fl_channel_ours(void)
{
	if (!fl_channel_ok)
		return 0;
	volatile int *t = __atomic_load_n(&fl_token, __ATOMIC_ACQUIRE);
	if (t)
		return *t == 1;
	if (!fl_channel_mine())
		return 0;
	if (fl_channel_ready() && __atomic_load_n(&fl_token_state, __ATOMIC_ACQUIRE) == TOKEN_NONE)
		map_token();
	return 1;
}

// route classifies (dirfd, path) in clean, size bytes of work space: the
// working directory, then the path joined to it (one buffer, for a signal
// handler on a small alternate stack; a longer path is the ordinary
// syscall's). pl, when not NULL, is told what the view can reuse.
static enum fl_where route(int dirfd, const char *path, char *clean, size_t size, struct fl_place *pl)
{
	if (fl_mount_len == 0 || !path || !path[0])
		return FL_PLAIN; // lane off, or an empty path: an fd operation
	size_t len = 0;
	if (path[0] != '/') {
		if (dirfd == AT_FDCWD) {
			// getcwd is not a path syscall: never notified. The kernel
			// returns a clean absolute path, or "(unreachable)...".
			long r = fl_raw(SYS_getcwd, (long)clean, (long)size, 0, 0, 0, 0);
			if (r <= 0 || clean[0] != '/')
				return FL_PLAIN;
			len = strlen(clean);
		} else {
			// A directory on another filesystem than the mount's:
			// relative steps from it are the kernel's. One on the
			// mount (a FUSE directory descriptor: the library opens
			// directories through the kernel): the daemon resolves
			// it (/proc/TID/fd/N), like the seccomp lane.
			// AT_STATX_DONT_SYNC: the type and device need no
			// FUSE round trip when the attributes have expired.
			// STATX_INO too, for the view (the same call, the same
			// cost): the FUSE inode keeps fsimpl's number.
			struct statx sx;
			if (fl_tramp(SYS_statx, dirfd, (long)"", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
				     STATX_TYPE | STATX_INO, (long)&sx, 0) != 0 ||
			    !S_ISDIR(sx.stx_mode))
				return FL_PLAIN;
			dev_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
			if (dev != mount_dev())
				return fl_faults_live() ? FL_PLAIN : FL_KERNEL;
			if (!fl_channel_ours())
				return FL_PLAIN;
			if (pl && (sx.stx_mask & STATX_INO)) {
				pl->dir_ino = sx.stx_ino;
				pl->dir_dev = dev;
			}
			return FL_MOUNTFD;
		}
	}
	size_t low;
	long n = join_clean(path, clean, len, size, &low);
	if (n < 0)
		return FL_PLAIN;
	if (!under(clean, (size_t)n))
		return fl_faults_live() ? FL_PLAIN : FL_KERNEL; // a rule may name it (fastlane/faults.go)
	if (!fl_channel_ours())
		return FL_PLAIN;
	if (pl && len > 1 && low >= len)
		pl->cwd_len = len; // no ".." of the path reached into it
	return FL_CHANNEL;
}

enum fl_where fl_route(int dirfd, const char *path)
{
	char clean[PATH_MAX];
	return route(dirfd, path, clean, sizeof clean, NULL);
}

enum fl_where fl_route_at(int dirfd, const char *path, struct fl_place *pl)
{
	pl->cwd_len = 0;
	pl->dir_ino = pl->dir_dev = 0;
	return route(dirfd, path, pl->buf + FL_PLACE_PATH, FL_PLACE_SIZE - FL_PLACE_PATH, pl);
}

enum fl_where fl_route2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	enum fl_where a = fl_route(olddirfd, oldpath);
	enum fl_where b = fl_route(newdirfd, newpath);
	if (a == FL_MOUNTFD && b == FL_CHANNEL)
		return a;
	if (a == FL_CHANNEL && b == FL_MOUNTFD)
		return b;
	return a == b ? a : FL_PLAIN;
}

void *fl_next(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		if (!p)
			abort(); // libc without it: nothing sensible to call
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}
