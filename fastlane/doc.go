// Package fastlane is btfuse's fast lane: the preload library (preload/,
// C; built by package preloadlib) that 'btfuse run' loads into dynamically
// linked commands, so that their path calls outside the mount reach the
// kernel from a trampoline page the seccomp filter allows
// (supervisor.BuildFastFilter), and those under the mount go to the daemon
// over a shared-memory channel (preload/channel.h; the daemon side lives
// in this package).
//
// # The channel
//
// The channel's library side is preload/channel.c; its daemon side is
// Server (handshake.go, serve*.go); preload/channel.h is the fixed
// interface between channel.c and the library's entry side.
//
// The channel is a speed path, never a boundary: whatever it cannot answer
// the library leaves to the ordinary syscall, which the seccomp lane serves
// (FL_PASS), and the daemon answers with the same fsimpl *At operations,
// with the same credentials, as the seccomp lane. Where fsimpl steps
// aside (only the kernel knows: "..", directories, devices), the daemon
// answers Kernel instead, and the library makes the call from its
// trampoline: the seccomp lane would CONTINUE it to the same FUSE mount.
//
// # Handshake
//
// The library connects to the daemon's control socket, named by the
// environment variable SocketEnv that 'btfuse run' sets, when a process
// (or a fork child) makes its ninth call under the mount (the first eight
// pass: a handshake costs more than a short-lived program saves;
// BTFUSE_FAST_AFTER sets the number; an open for writing handshakes at
// once, since the seccomp lane would keep its descriptor for good, every
// fstat or ftruncate of it notified), and sends the control
// request OpHandshake in the control package's wire format. The daemon
// takes the peer's pid from SO_PEERCRED (the kernel's word, not the
// library's), opens a pidfd on it while the peer waits for the reply (so
// the pid cannot have been reused), creates the segment, a sealed-size
// memfd of its own, and sends it back with SCM_RIGHTS, with the library's
// end of the doorbell socket (and the backing directory: see Opens). The
// connection stays open: when the daemon dies the library sees it hung up.
// Only a process under a seccomp filter is served (Seccomp: 2 in its
// status): the filter of 'btfuse run' is what notifies its credential
// changes.
//
// Credentials never come from the library. Every request names its thread
// (gettid); the daemon reads that thread's credentials through the
// supervisor's credential cache (/proc/TID/status, re-read after every
// set*id and capset, which the seccomp filter notifies) and refuses a
// thread whose thread group is not the handshaked process. The worker
// keeps what it read per TID while the credential generation stands and
// the request comes through the same claim of the same slot (threads.go),
// so that a known thread costs no syscall. A vfork child
// runs on its parent's thread-local slot with its own TID: the library sees
// gettid() differ from the slot's owner and passes.
//
// # Segment
//
// One segment per handshaked process: a header page, then NumSlots slots of
// SlotSize bytes. The header holds the magic, the layout version, the slot
// count and size, the daemon's state word (serving or closed), a request
// counter and the word that says the worker sleeps. Offsets and
// sizes are in the header so that the library checks the layout it maps;
// the daemon never reads a length from the segment without bounding it by
// the slot (a request's path must end with a NUL within its buffer, or the
// request passes; the library itself passes paths of PATH_MAX or more,
// which the kernel refuses with ENAMETOOLONG).
//
// A slot belongs to one thread at a time: the library claims a free slot
// with a compare-and-swap of its owner word from 0 to its TID, releases it
// from a thread-exit destructor, and takes over the slot of a dead owner
// (tgkill(pid, owner, 0) fails with ESRCH) when none is free. A slot's
// state word goes Idle -> Request (library, after writing the request) ->
// Busy (worker, by CAS, so one worker takes it) -> Done (worker, after
// writing the reply) -> Idle (library, after reading it). A request is the
// op, the thread id, dirfd, flags, mode, mask and length, and up to two
// NUL-terminated paths; a reply is a result (>= 0, -errno or Pass) and up
// to one page of data (struct stat, struct statx, a link target).
//
// # Waiting
//
// After posting a request the library makes one syscall, the doorbell
// (supervisor.DoorbellNr, with the session's id from hdrDoorbell and the
// slot's index), which only the fast filter of 'btfuse run' notifies.
// The supervisor's receiver that gets it serves the slot (doorbell.go)
// and replies: the kernel hands the CPU from the caller to the receiver
// and back (SYNC_WAKE_UP), where a futex or socket wake-up lets the
// scheduler wake the other thread on the other CPU, an inter-processor
// interrupt and often an idle CPU's wake-up, both dear on a virtual
// machine. The kernel's TID of the notification must be the slot's. A
// signal before the receiver took the call interrupts it (EINTR): the
// library rings again, so the caller sees none. A request is served once,
// by whoever moves the slot from Request to Busy: when the worker has it,
// the doorbell answers "not taken" and the library waits as below. A
// daemon that does not answer the doorbell (ENOSYS: another filter, or
// the daemon died and 'btfuse run' CONTINUEs its calls) is not rung
// again; BTFUSE_FAST_RING=0 turns the doorbell off.
//
// Without the doorbell, the library rings the bell socket when the worker
// sleeps (a byte written to the doorbell socket, whose other end the
// worker sleeps in reading: a unix socket wakes its reader synchronously,
// on the writer's CPU, which FUTEX_WAKE does not; then the library sleeps
// at once, since the wake-up takes longer than a spin is worth), or spins
// on the slot's state for a bounded, adaptive time (at most 20 us; none on
// a single CPU, where spinning only delays the worker; longer after replies
// a longer spin would have caught, shorter after replies slower than the
// bound) and then sleeps with FUTEX_WAIT on the state word, having told the
// worker so by the slot's waiter word. The sleep has a
// timeout: on each one the library checks that the control connection has
// not hung up, and if it has (the daemon died) it gives up the channel for
// good: every later call is FL_PASS. A signal that interrupts the wait is
// not seen by the caller: the wait resumes (no EINTR where the kernel gives
// none).
//
// The daemon serves each segment with a worker goroutine on a locked OS
// thread: it scans the slots for requests, keeps polling for a short while
// after the last one (a program in a loop of path calls keeps it hot), then
// announces that it sleeps and reads the doorbell socket. After waking a
// thread that slept for its reply it sleeps at once: that thread needs a
// CPU, and on a busy machine the polling worker holds the one it would
// get; the next request rings the doorbell, which hands the worker the
// caller's CPU, as a seccomp notification does. One worker
// serves all the threads of a process, one request at a time. It wakes at
// least every WorkerPatience to see whether its process is gone (pidfd);
// the library's end of the socket closes with the process (or its exec),
// which ends the read at once. At close the state word becomes Closed,
// the worker's read is shut down and every sleeper is woken; the library
// then passes.
//
// # Fork and exec
//
// The segment is mapped with MADV_DONTFORK: a fork child does not inherit
// it, so it can never write into its parent's slots. fl_channel_atfork_child
// forgets the parent's channel and the child handshakes again (after its
// own BTFUSE_FAST_AFTER calls). exec drops the mapping and the close-on-exec connection; the new
// program's library handshakes afresh.
//
// Which process it runs in, a handshaked process learns without a
// syscall (a getpid costs as much as a stat from the view): a word in a
// page the kernel zeroes in the child of any copying fork
// (MADV_WIPEONFORK) says so, and the fork handler sets it again. The page
// is made after the process's own handshake, since before it there is
// nothing of the process's to keep a child off, and most processes never
// handshake; until then the library asks getpid. The child of a raw fork
// or clone reads 0 (or, without the page, another pid) and makes every
// call the ordinary way. A vfork child
// shares its parent's memory, mappings included, and reads 1: it may
// answer from its parent's view, whose answers hold for every credential
// the parent's hdrViewWalk admits, and a credential change of such a
// child turns that off for its parent (Server.credChanged, by kcmp
// KCMP_VM); what is the parent's alone (its slots, its handshake, its
// descriptor entries and pins) checks the process or thread id where it
// is touched.
//
// # What the channel answers
//
// Paths are walked from the root: the library joins a path relative to
// the working directory (dirfd AT_FDCWD) to the directory getcwd names, the
// string /proc/TID/cwd would give the daemon for a syscall more (when
// getcwd cannot name it, the path goes as it is and the daemon reads
// /proc/TID/cwd, passing what it cannot place). A path relative to a
// directory descriptor goes with the descriptor, which the daemon places
// as the seccomp lane does (/proc/TID/fd/N; the library sends only
// descriptors of directories on the mount). The walk, the permission checks and the answer are those of
// the seccomp lane's handlers (supervisor.LaneAt), so both lanes agree
// with the FUSE mount: newfstatat, statx, faccessat2 and readlinkat;
// mkdirat, unlinkat, renameat2 and linkat; and openat of regular files.
//
// # Opens
//
// The daemon decides an open with fsimpl.OpenAt, which also creates and
// truncates, holds the resulting File and answers with an id for it and
// the name of its backing file. The library opens that name itself
// through the backing store's directory, with the flags that reach a
// backing file (access mode, O_APPEND, O_NONBLOCK) and the caller's
// O_CLOEXEC, and records descriptor -> id in a table, with the backing
// file's identity: fl_fstat answers for those descriptors with the
// filesystem's attributes while the descriptor still is that file (not
// after a dup2 onto it); fl_close queues the File's release in the slot,
// for the worker to act on with the thread's next request (a full queue
// asks at once); a fork child's table names its parent's session and is
// not used, and a vfork child, on its parent's memory, leaves it alone.
// The library follows dup, dup2, dup3, fcntl F_DUPFD, close_range,
// closefrom, fclose and freopen (preload/path_fds.c): a duplicate is in
// the table too, and the File is released with the last descriptor on
// it, as the kernel releases an open file description. The channel's own
// descriptors (connection, doorbell, backing directory) move out of a
// range the program closes or replaces; where they cannot (closefrom(3),
// close_range to ~0U) the range is closed around them, so a program that
// closes everything above stderr keeps its channel. The calls that
// change or read a file's metadata through a descriptor (fchmod, fchown,
// fchownat and statx with AT_EMPTY_PATH, fgetxattr, fsetxattr,
// flistxattr, fremovexattr, fstatfs) go to the daemon for those
// descriptors (preload/fd_meta.c, serve_fdmeta.go): made natively they
// would reach the backing file, whose descriptor number the seccomp filter
// does not notify. The daemon answers them for the File's inode as the
// seccomp lane does for its own descriptors (the same fsimpl operations,
// the thread's credentials), reading and writing the call's buffers in
// the caller's memory. An open that
// creates or truncates first holds the descriptor number it will have,
// so that a full table is EMFILE before anything changes, as in
// fs/open.c. The backing directory is handed over at the handshake only to a
// process that is full root or has the uid of a daemon that is not root,
// which could open the backing files anyway, and every open checks that
// again; otherwise opens pass to the seccomp lane. A program may close the
// directory's descriptor: its identity is checked before each use.
//
// # The metadata view
//
// A process given the backing directory is also given the filesystem's
// metadata view (fsimpl.FS.View; view.go here, preload/view.c), a
// read-only shared-memory mirror of the inode table under a seqlock. The
// stat family, statx, access (F_OK, and R/W/X where fsimpl publishes that
// every credential is granted them; the view is unusable while the mount
// is read-only, where W_OK is EROFS) and readlink of paths under the
// mount, the mount root included,
// are answered from it inside the process, with no round trip: only a
// regular file's size and times cost one fstatat of its backing file,
// through the backing directory. What the view cannot decide (a directory
// not every credential may search, a symlink that could be refused or
// whose atime would change, a long name, a dirfd) goes to
// the channel as before. The daemon publishes what only it can know: the
// view's usable flag and each process's hdrViewWalk (view.go).
//
// Why a regular file's size, blocks and times are not in the view: the
// FUSE door answers them from the backing file live (fsimpl's attrLocked,
// fstat at each getattr), and the kernel changes them without the daemon
// taking part, so a copy could only be vouched for if the daemon learned
// of every change before it became visible. It does not: a backing
// descriptor any lane hands out can be reopened for writing through
// /proc/PID/fd/N, and futimens or fchmod on one (a dup of a served
// descriptor is native) change times and ctime, all without fsimpl; a
// read lease (F_SETLEASE F_RDLCK) would break on the reopen and on
// truncate, but not on futimens (notify_change breaks delegations only).
// Without any writer, a read through mmap of a hole allocates pages
// (st_blocks grows; tmpfs's shmem_fault), and a read updates atime under
// relatime whenever atime is not later than mtime and ctime, as for every
// file not read since its last change, or is a day old (a clock step
// moves that). Pinned by nothing yet: an exact view of these needs the
// kernel itself to mark each change before it lands (a BPF LSM or
// tracing hook bumping a generation the library checks, as the seqlock's
// sequence is), which this design has not got.
//
// # Opens from the view
//
// A read-only open of an existing regular file (no O_CREAT, O_TRUNC,
// O_NOATIME, O_SYNC, O_DIRECT, O_PATH or O_TMPFILE; O_DIRECTORY goes to
// the kernel) by such a process is made inside the process too
// (preload/view_open.c), with no round trip: the view's walk, a regular
// file that fsimpl grants every credential reading, and the backing file
// opened through the backing directory by its name (fsimpl.BackingName).
// fsimpl.OpenAt records nothing else for such an open than that the file
// is open (inode.opens, which keeps an unlinked inode), so that is what
// the process publishes instead: a pin, the inode number in an entry of
// the pin table in its segment's header page (pins.go), which fsimpl asks
// about (fsimpl.Pinner) before it frees a regular file. Whatever else the
// view does not decide goes to the channel as before.
//
// A read-only open with the same flags whose walk ends at a directory
// (sqlite opens a database's directory so, to fsync it) goes to the
// kernel from the trampoline, as an O_DIRECTORY open does: the daemon
// would answer Kernel (fsimpl steps aside for directories), and whatever
// the view saw, the kernel's answer through the FUSE mount is the one to
// give.
//
// Why an open so made is one the daemon's could have made, at one moment:
//   - The library reads the view's sequence (even), walks, stores the pin
//     (a locked compare-and-swap), makes a full fence and reads the
//     sequence again; only if it has not moved does the open take
//     effect, at that moment, with what the walk saw. fsimpl makes the
//     sequence odd before it asks the Pinner, in the critical section of
//     the change (FS.mu), and the Pinner reads the pins with sequentially
//     consistent atomics: so either the daemon sees the pin (and keeps the
//     inode), or the library sees the sequence move (and lets the pin go,
//     retrying or asking the channel). An inode the view showed at a
//     sequence that still stands is live (its slot is freed in the
//     critical section that frees it).
//   - The pin then keeps the inode, its backing file and so its name: the
//     open of the name after the check opens that inode's file. Inode
//     numbers are never reused (fsimpl hands out FS.nextIno, which only
//     grows), so no name can come to mean another file.
//   - hdrViewWalk is read again after the check: a credential change
//     clears it before it proceeds, so an open that still sees it set came
//     before the change.
//   - What an open File changes in the daemon that a read-only open from
//     the view does not: foreignWriters (writers only), FUSE passthrough
//     registrations and leases (the FUSE door's own), atime (regular files
//     keep theirs in the backing file, which the kernel updates on read),
//     and the events of OpenAt (only for creating, truncating and writing
//     opens). So the pin stands for it wherever it matters: an unlinked or
//     renamed-over file keeps its inode, its link count 0, mode, owner and
//     the ctime of the unlink (fstat answers them), until its last
//     descriptor is closed.
//
// A descriptor opened so carries pinID|entry in the descriptor table where
// a channel-opened one carries its File's id: dup, dup2, dup3, F_DUPFD,
// close_range, closefrom and fclose follow it alike, and the descriptor
// calls of fd_meta.c reach the daemon with it, which answers them for the
// pinned inode. The last close clears the entry; a pin the daemon marked
// held (it kept an unlinked inode for it) is reported at once, as the
// release of a File whose inode the view shows unlinked is, so that the
// daemon frees the inode with the last close as the kernel does. Fork
// children and exec behave as with a File: the child's copy and a
// descriptor kept across exec read the same backing file; their fstat is
// the backing file's (the table is the parent's, or gone), and the pins go
// with the session, as its Files do.
//
// fstat of a descriptor the library opened (either way) is answered from
// the view too: the identity check of the descriptor (one fstat of it,
// which it made already) gives the backing file's size and times, and the
// view the rest of what fsimpl's GetAttr answers, by inode number
// (FLV_HDR_IBUCK_OFF); a volatile inode (open for writing elsewhere) goes
// to the channel.
//
// The calls keep the caller's errno: the channel's own syscalls (a futex
// timeout, an identity check) must not show where the syscall they stand
// for succeeded.
package fastlane
