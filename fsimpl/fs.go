package fsimpl

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure a new filesystem.
type Options struct {
	// SizeBytes caps the bytes of file data (0: half of RAM).
	SizeBytes uint64
	// Inodes caps the number of inodes of every kind (0: the same default as
	// tmpfs, half the RAM pages).
	Inodes uint64
	// Backing chooses where file contents live: BackingAuto tries a private
	// detached tmpfs (in a user namespace of its own without
	// CAP_SYS_ADMIN) and falls back to a 0700 directory under /dev/shm.
	Backing BackingKind
	// RootUID, RootGID and RootMode set the root directory's owner, group
	// and permission bits (up to 07777), as tmpfs's uid=, gid= and mode=
	// do; nil keeps the defaults: the euid and egid of the process, 0755.
	RootUID, RootGID, RootMode *uint32
}

// BackingKind selects where file contents live.
type BackingKind int

const (
	// BackingAuto uses a private tmpfs when the daemon may mount one,
	// itself or in a user namespace (openUserTmpfs), and a 0700 directory
	// under /dev/shm otherwise.
	BackingAuto BackingKind = iota
	// BackingTmpfs is a tmpfs created with fsopen/fsmount and never attached
	// to any path: reachable only through the daemon's directory fd.
	BackingTmpfs
	// BackingShm is a 0700 directory under /dev/shm, removed at Close.
	BackingShm
)

func (k BackingKind) String() string {
	switch k {
	case BackingTmpfs:
		return "tmpfs"
	case BackingShm:
		return "shm"
	}
	return "auto"
}

const (
	pageSize = 4096
	// bogoDirentSize is what tmpfs adds to a directory's size per entry
	// (mm/shmem.c BOGO_DIRENT_SIZE).
	bogoDirentSize = 20
	// shortSymlinkLen: tmpfs keeps targets shorter than this inline, longer
	// ones in a page (mm/shmem.c SHORT_SYMLINK_LEN, counting the NUL).
	shortSymlinkLen = 128
	// pathMax is PATH_MAX including the terminating NUL.
	pathMax = 4096
)

// FS is the filesystem. All methods are safe for concurrent use.
type FS struct {
	mu fsMutex

	// view is the metadata view (view.go), nil until View. Guarded by mu.
	view *view
	// pinner is asked before a regular file is freed, and pinHeld are
	// the inodes kept for it (pins.go). Guarded by mu.
	pinner  Pinner
	pinHeld map[Ino]*inode

	// inodes maps numbers to live inodes. Guarded by mu.
	inodes map[Ino]*inode
	// nextIno is the next inode number to hand out. Guarded by mu.
	nextIno Ino
	// usedInodes counts inodes plus extra hard links of non-directories, as
	// tmpfs charges them (mm/shmem.c:shmem_link). Guarded by mu.
	usedInodes uint64
	// xattrSpace is what the xattrs of all inodes are charged (see
	// xattrCost). Guarded by mu.
	xattrSpace uint64

	maxInodes uint64 // immutable
	maxBytes  uint64 // immutable
	// sysctl reads fs.<name> (the fs.protected_* sysctls), or returns def.
	// The kernel reads them at each check, so fsimpl does too, only where
	// the answer depends on them. Immutable.
	sysctl func(name string, def int) int

	back *backing // immutable pointer; the backing itself is thread-safe
	gen  uint32   // generation of file handles (export.go); immutable
	// byBacking maps the inode number of a backing file to its inode, for
	// the inodes whose backing file has been opened (see BackingIno).
	// Guarded by mu.
	byBacking map[uint64]Ino
	// usedBytes is the estimate of allocated backing bytes (sum of
	// inode.alloc), maintained for BackingShm. Atomic.
	usedBytes atomic.Int64

	// watchers are told of changes (feed.go). Copied on write under
	// watchMu, loaded without it.
	watchers atomic.Pointer[[]*watch]
	watchMu  sync.Mutex
}

// inode is one file, directory, symlink or special file.
type inode struct {
	ino Ino // immutable

	// Guarded by FS.mu.
	mode                uint32
	nlink               uint32
	uid, gid            uint32
	rdev                uint64
	atime, mtime, ctime unix.Timespec // atime and mtime unused for regular files
	opens               int           // open Files
	xattrs              map[string][]byte
	target              string   // symlink target
	dir                 *dirData // non-nil for directories
	backIno             uint64   // the backing file's inode number, once opened
	backPriv            uint32   // privBits the backing file was given (privs.go)
	backGID             uint32   // the backing file's group, as given (privs.go)
	foreignWriters      int      // open Files for writing handed out (HandOut)

	// refs counts the references held by doors (Lookup and friends).
	// Atomic, so that Lookup can take one under FS.mu held for reading;
	// it is only decreased, and tested for zero, with FS.mu held for
	// writing, so no reader can race a free.
	refs atomic.Uint64

	// alloc is the number of backing bytes allocated at the last look
	// (regular files). Atomic.
	alloc atomic.Int64
}

func (n *inode) isDir() bool  { return n.mode&unix.S_IFMT == unix.S_IFDIR }
func (n *inode) isReg() bool  { return n.mode&unix.S_IFMT == unix.S_IFREG }
func (n *inode) isLink() bool { return n.mode&unix.S_IFMT == unix.S_IFLNK }

// New creates an empty filesystem whose root is owned by the calling
// process's euid and egid with mode 0755, unless opts say otherwise.
func New(opts Options) (*FS, error) {
	if opts.RootMode != nil && *opts.RootMode&^0o7777 != 0 {
		return nil, fmt.Errorf("root mode %#o: want permission bits up to 07777", *opts.RootMode)
	}
	var si unix.Sysinfo_t
	if opts.SizeBytes == 0 || opts.Inodes == 0 {
		if err := unix.Sysinfo(&si); err != nil {
			return nil, err
		}
	}
	ram := uint64(si.Totalram) * uint64(si.Unit)
	if opts.SizeBytes == 0 {
		// mm/shmem.c:shmem_default_max_blocks: half of RAM.
		opts.SizeBytes = ram / 2
	}
	if opts.Inodes == 0 {
		// mm/shmem.c:shmem_default_max_inodes: half of the RAM pages.
		opts.Inodes = ram / pageSize / 2
	}
	if opts.SizeBytes > math.MaxInt64 {
		opts.SizeBytes = math.MaxInt64
	}
	back, err := openBacking(opts)
	if err != nil {
		return nil, err
	}
	fs := &FS{
		inodes:    make(map[Ino]*inode),
		nextIno:   RootIno,
		maxInodes: opts.Inodes,
		maxBytes:  opts.SizeBytes,
		sysctl:    readSysctl,
		back:      back,
		gen:       newGeneration(),
		byBacking: make(map[uint64]Ino),
	}
	fs.mu.fs = fs
	now := now()
	root := &inode{
		ino:  RootIno,
		mode: unix.S_IFDIR | 0o755,
		// Owned by whoever runs the filesystem, as a tmpfs mounted with
		// uid=/gid=: a daemon of an ordinary user could create nothing
		// in a root-owned 0755 root.
		uid:   uint32(os.Geteuid()),
		gid:   uint32(os.Getegid()),
		nlink: 2,
		atime: now, mtime: now, ctime: now,
	}
	if opts.RootUID != nil {
		root.uid = *opts.RootUID
	}
	if opts.RootGID != nil {
		root.gid = *opts.RootGID
	}
	if opts.RootMode != nil {
		root.mode = unix.S_IFDIR | *opts.RootMode
	}
	root.dir = newDirData(root)
	fs.inodes[RootIno] = root
	fs.nextIno = RootIno + 1
	fs.usedInodes = 1
	return fs, nil
}

// readSysctl reads /proc/sys/fs/name, or returns def when it cannot.
func readSysctl(name string, def int) int {
	b, err := os.ReadFile("/proc/sys/fs/" + name)
	if err != nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return def
	}
	return v
}

// Close releases the backing store. Open Files must be released first.
func (fs *FS) Close() error {
	fs.closeView()
	return fs.back.close()
}

// BackingDescription says where file contents live, for `btfuse mount` and
// status output.
func (fs *FS) BackingDescription() string { return fs.back.describe() }

// Backing returns the kind of backing store in use (never BackingAuto).
func (fs *FS) Backing() BackingKind { return fs.back.kind }

// now is the filesystem's clock. It is CLOCK_REALTIME at full resolution:
// the kernel's current_time() is coarse (jiffies) but multigrain timestamps
// make tmpfs fine-grained whenever anyone looks, and a fine clock keeps
// "this changed after that" observable. time.Now reads the same clock
// through the vDSO; unix.ClockGettime is a real syscall, one more per
// mutation.
func now() unix.Timespec {
	return unix.NsecToTimespec(time.Now().UnixNano())
}

// getLocked returns the inode numbered ino, or ESTALE when there is none
// (the number was never handed out, or the inode was freed).
//
// Preconditions: fs.mu is held.
func (fs *FS) getLocked(ino Ino) (*inode, unix.Errno) {
	n, ok := fs.inodes[ino]
	if !ok {
		return nil, unix.ESTALE
	}
	return n, 0
}

// bogoInodeSize is what an inode is charged of the inode space, which
// xattrs share (mm/shmem.c:BOGO_INODE_SIZE): tmpfs has max_inodes times
// this much "ispace", and each inode, extra hard link and xattr takes its
// part.
const bogoInodeSize = 1024

// freeISpaceLocked is the inode space left (mm/shmem.c:free_ispace).
//
// Preconditions: fs.mu is held.
func (fs *FS) freeISpaceLocked() uint64 {
	total := fs.maxInodes * bogoInodeSize
	if fs.maxInodes > math.MaxUint64/bogoInodeSize {
		total = math.MaxUint64
	}
	used := fs.usedInodes*bogoInodeSize + fs.xattrSpace
	if used >= total {
		return 0
	}
	return total - used
}

// reserveInodeLocked charges one inode (or one extra hard link) against the
// limit, as mm/shmem.c:shmem_reserve_inode does.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) reserveInodeLocked() unix.Errno {
	if fs.freeISpaceLocked() < bogoInodeSize {
		return unix.ENOSPC
	}
	fs.usedInodes++
	return 0
}

// releaseInodeLocked gives back what reserveInodeLocked took
// (mm/shmem.c:shmem_free_inode).
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) releaseInodeLocked() {
	if fs.usedInodes > 0 {
		fs.usedInodes--
	}
}

// Forget gives back n references that Lookup and friends took for the FUSE
// door. Unknown inodes are ignored.
func (fs *FS) Forget(ino Ino, n uint64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	in, ok := fs.inodes[ino]
	if !ok {
		return
	}
	if r := in.refs.Load(); n > r {
		n = r
	}
	in.refs.Add(-n)
	fs.maybeFreeLocked(in)
}

// maybeFreeLocked frees n if nothing keeps it alive any more: no links, no
// references, no open Files (mirrors iput_final -> shmem_evict_inode).
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) maybeFreeLocked(n *inode) {
	if n.ino == RootIno || n.nlink != 0 || n.refs.Load() != 0 || n.opens != 0 {
		return
	}
	if _, ok := fs.inodes[n.ino]; !ok {
		return
	}
	if fs.pinnedLocked(n) {
		return
	}
	delete(fs.inodes, n.ino)
	fs.viewInoLocked(n)
	fs.releaseInodeLocked()
	if n.isReg() {
		if n.backIno != 0 {
			delete(fs.byBacking, n.backIno)
		}
		fs.back.remove(n.ino)
		fs.usedBytes.Add(-n.alloc.Swap(0))
	}
	for name, v := range n.xattrs {
		fs.xattrSpace -= xattrCost(name, v)
	}
	n.xattrs = nil
	n.dir = nil
}

// entryLocked is the answer of an operation that hands out an entry: n's
// attributes, with a lookup reference when the caller is the FUSE door,
// where the kernel keeps the node until it sends FORGET. No other door
// holds references, so nothing else has to give any back.
//
// Preconditions: fs.mu is held (for reading or writing).
func (fs *FS) entryLocked(c *Cred, n *inode) Attr {
	if c.Door == DoorFUSE {
		n.refs.Add(1)
	}
	return fs.attrLocked(n)
}

// cred returns c, or Root for a nil credential.
func cred(c *Cred) *Cred {
	if c == nil {
		return Root
	}
	return c
}
