package fuseserve

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/mountinfo"
)

// Default cache timeouts. One second keeps repeated stats and path walks off
// the wire, while bounding how long a change nobody reported can hide.
// Changes that come through this mount are kept coherent by the kernel
// itself, and fsimpl's change feed reports the others (onChange), so
// caching is safe; see Options.
const (
	DefaultEntryTimeout = time.Second
	DefaultAttrTimeout  = time.Second
)

// maxWrite is the largest WRITE/READ request. 1 MiB (256 pages, the kernel's
// default max_pages_limit) cuts the round trips of large sequential I/O in
// close-to-open mode four- to eightfold against go-fuse's 128 KiB default; in
// passthrough mode data never crosses the wire, so it costs only the reader
// buffers (2 x ~1 MiB here).
const maxWrite = 1 << 20

// Options configure Mount.
type Options struct {
	// AllowOther lets users other than the mounting one use the mount
	// (mount option allow_other). Tests that switch uid need it.
	AllowOther bool
	// Debug logs every FUSE request and reply.
	Debug bool
	// EntryTimeout is how long the kernel may cache a name (positive or
	// negative) without asking again; 0 means DefaultEntryTimeout.
	// AttrTimeout is the same for attributes; 0 means DefaultAttrTimeout.
	// In close-to-open mode regular files always get 0 (see package doc).
	// In passthrough mode the attributes of a file that a descriptor
	// handed out by the supervised door has open for writing are not
	// cached at all (fsimpl.Attr.Volatile); stores through a shared
	// mapping made from such a descriptor and kept after its close show
	// their mtime only after AttrTimeout.
	EntryTimeout, AttrTimeout time.Duration
	// FsName is the source column of /proc/mounts; default "btfuse".
	FsName string
	// DisablePassthrough forces close-to-open mode even where passthrough
	// works (for measurements and tests of that mode).
	DisablePassthrough bool
	// Observer, when set, is told of every request answered (see
	// observe.go); with nil, no clock is read and no path is kept.
	Observer event.Observer
	// Faults, when set, are fault rules applied to every request
	// (inject.go); rules with path= need an Observer (the path cache).
	Faults *faults.Set
	// Dev lets device nodes in the mount be opened (the mount is made
	// without nodev); SUID lets exec honour setuid and setgid bits and
	// file capabilities (without nosuid). Both are off by default, as for
	// every FUSE mount of an ordinary user, and need root: only a mount(2)
	// of its own can leave them out (fusermount3 forces them for others).
	// The backing files stay on a nosuid, nodev mount either way.
	Dev, SUID bool
	// ReadOnly mounts ro (MS_RDONLY: the per-mount flag, which the
	// supervisor reads to step aside, and the superblock's); NoExec mounts
	// noexec.
	ReadOnly, NoExec bool

	// noKillPrivV2 leaves FUSE_HANDLE_KILLPRIV_V2 out of the negotiation:
	// only for the test that measures what it saves.
	noKillPrivV2 bool
}

// Server is a mounted and serving btfuse FUSE door.
type Server struct {
	dir   string
	id    mountinfo.ID // the mount, wherever its point is moved to
	raw   *rawFS
	srv   *fuse.Server
	inval *invalQueue
	mode  string

	done      chan struct{} // closed when serving has stopped and state is released
	unmountMu sync.Mutex
}

// Mount mounts fs at dir and serves it; it returns once the mount answers.
// As root it calls mount(2) itself; otherwise it uses fusermount3.
func Mount(dir string, fs *fsimpl.FS, opts Options) (*Server, error) {
	if fs == nil {
		return nil, errors.New("fuseserve: mount: nil filesystem")
	}
	if opts.EntryTimeout <= 0 {
		opts.EntryTimeout = DefaultEntryTimeout
	}
	if opts.AttrTimeout <= 0 {
		opts.AttrTimeout = DefaultAttrTimeout
	}
	if opts.FsName == "" {
		opts.FsName = "btfuse"
	}
	if (opts.Dev || opts.SUID) && os.Geteuid() != 0 {
		return nil, fmt.Errorf("mount %s: only root may mount with %s", dir, MountFlags(opts))
	}
	r := newRawFS(fs, opts)
	r.mount = dir
	extra := uint64(fuse.CAP_HANDLE_KILLPRIV_V2 | fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_READDIRPLUS_AUTO |
		fuse.CAP_POSIX_LOCKS | fuse.CAP_FLOCK_LOCKS | fuse.CAP_EXPORT_SUPPORT)
	if opts.noKillPrivV2 {
		extra &^= fuse.CAP_HANDLE_KILLPRIV_V2
	}
	mo := &fuse.MountOptions{
		AllowOther: opts.AllowOther,
		// The kernel checks permissions on every path walk and open; fsimpl
		// checks again for the supervised door's sake.
		Options:     mountOptions(opts),
		Name:        "btfuse",
		FsName:      opts.FsName,
		MaxWrite:    maxWrite,
		DirectMount: os.Geteuid() == 0,
		// go-fuse's own mount(2) passes "ro" on as a filesystem option,
		// which makes the superblock read-only but leaves the mount's
		// flag (the "ro" of /proc/self/mountinfo's mount options) clear.
		DirectMountFlags: directMountFlags(opts),
		// No writeback cache: both doors must see writes at once.
		// POSIX and flock locks come here (CAP_POSIX_LOCKS and
		// CAP_FLOCK_LOCKS in extra, above), to be kept on the backing
		// files where the supervised door's locks are (locks.go).
		// HANDLE_KILLPRIV_V2 lets the kernel mark inodes S_NOSEC, which
		// removes the GETXATTR(security.capability) round trip before every
		// write; in exchange this server clears suid/sgid itself.
		// ATOMIC_O_TRUNC lets O_TRUNC travel with OPEN instead of a separate
		// SETATTR (fsimpl.Open truncates).
		// EXPORT_SUPPORT lets file handles (open_by_handle_at, NFS)
		// outlive the kernel's inode cache: the kernel then asks for
		// "." and ".." (rawFS.lookupExport), which btfuse can answer
		// because inode numbers are never reused.
		// READDIRPLUS_AUTO lets the kernel send plain READDIR unless the
		// names read are then looked up: a plain listing then costs no
		// attribute lookups, and a listing followed by stats as much as
		// with READDIRPLUS always.
		ExtraCapabilities: extra,
		Debug:             opts.Debug,
		Logger:            slog.NewLogLogger(slog.Default().Handler(), slog.LevelInfo),
		PanicHandler:      r.panicked,
	}
	var srv *fuse.Server
	var err error
	if mo.DirectMount {
		srv, err = fuse.NewServer(r, dir, mo)
	} else {
		var said string
		said, err = captureStderr(func() (err error) {
			srv, err = fuse.NewServer(r, dir, mo)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w (without root, btfuse mounts through fusermount3, which needs /dev/fuse and write access to the mount point)", dir, fusermountError(err, said))
		}
		os.Stderr.WriteString(said)
	}
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w (needs root or fusermount3, and /dev/fuse)", dir, err)
	}
	r.srv = srv
	closeOnExecDevFuse()
	s := &Server{dir: dir, raw: r, srv: srv, done: make(chan struct{})}
	r.passthrough, s.mode = decideMode(srv, opts)
	if !r.passthrough {
		r.fileAttrTTL = 0
	}
	s.inval = newInvalQueue(r, srv, invalQueueLen)
	r.inval = s.inval
	r.expiry = newListingExpiry(r, r.entryTTL, r.fileAttrTTL)
	unwatch := fs.Watch(s.onChange, fsimpl.DoorFUSE)
	unwatchOwn := fs.Watch(s.onOwnChange, fsimpl.DoorNone)
	go func() {
		defer close(s.done)
		srv.Serve()
		unwatch()
		unwatchOwn()
		r.expiry.stop()
		s.inval.stop()
		r.shutdown()
	}()
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		<-s.done
		return nil, fmt.Errorf("mount %s: waiting for the mount to answer: %w", dir, err)
	}
	// The mount is known by its identity from here on: a directory above
	// dir may be renamed, and dir replaced, while it is mounted.
	id, err := mountinfo.RootAt(dir)
	if err != nil {
		_ = srv.Unmount()
		<-s.done
		return nil, fmt.Errorf("mount %s: identify the new mount: %w", dir, err)
	}
	s.id = id
	slog.Debug("btfuse mounted", "dir", dir, "mode", s.mode)
	return s, nil
}

// mountOptions are the options of the mount: default_permissions, and dev
// and suid when asked for (go-fuse mounts nosuid,nodev unless told so).
func mountOptions(opts Options) []string {
	o := []string{"default_permissions"}
	if opts.Dev {
		o = append(o, "dev")
	}
	if opts.SUID {
		o = append(o, "suid")
	}
	if opts.NoExec {
		o = append(o, "noexec")
	}
	if opts.ReadOnly {
		// fusermount3 turns "ro" into MS_RDONLY; a mount of our own
		// takes it from DirectMountFlags (see Mount).
		o = append(o, "ro")
	}
	return o
}

// directMountFlags are the mount(2) flags of a mount of our own: nosuid
// and nodev, and MS_RDONLY for ReadOnly (the options' dev and suid clear
// the first two; go-fuse reads them).
func directMountFlags(opts Options) uintptr {
	f := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if opts.ReadOnly {
		f |= unix.MS_RDONLY
	}
	return f
}

// MountFlags names the mount's device and setuid flags as mount(8) does:
// "nosuid,nodev" by default, followed by "noexec" and "ro" when set.
func MountFlags(opts Options) string {
	s, d := "nosuid", "nodev"
	if opts.SUID {
		s = "suid"
	}
	if opts.Dev {
		d = "dev"
	}
	f := s + "," + d
	if opts.NoExec {
		f += ",noexec"
	}
	if opts.ReadOnly {
		f += ",ro"
	}
	return f
}

// decideMode reports whether reads and writes can go through FUSE
// passthrough, and the human description of the mode. Passthrough needs the
// kernel to offer it (Linux >= 6.9) and the daemon to be allowed to register
// backing files (CAP_SYS_ADMIN in the initial user namespace); the latter is
// probed with a memfd so that the answer is the kernel's, not a guess.
func decideMode(srv *fuse.Server, opts Options) (bool, string) {
	const c2o = "close-to-open (no passthrough: %s)"
	if opts.DisablePassthrough {
		return false, fmt.Sprintf(c2o, "disabled by option")
	}
	if srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		return false, fmt.Sprintf(c2o, "kernel does not offer FUSE_PASSTHROUGH, needs Linux >= 6.9")
	}
	fd, err := unix.MemfdCreate("btfuse-passthrough-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return false, fmt.Sprintf(c2o, "memfd for the probe: "+err.Error())
	}
	defer unix.Close(fd)
	id, errno := srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(fd)})
	if errno != 0 {
		reason := "registering a backing file: " + errno.Error()
		if errno == unix.EPERM {
			reason += " (needs CAP_SYS_ADMIN in the initial user namespace)"
		}
		return false, fmt.Sprintf(c2o, reason)
	}
	if errno := srv.UnregisterBackingFd(id); errno != 0 {
		slog.Warn("fuseserve: unregistering the probe backing ID", "id", id, "err", errno)
	}
	return true, "passthrough"
}

// Passthrough reports whether reads and writes go through FUSE passthrough.
func (s *Server) Passthrough() bool { return s.raw.passthrough }

// Mode describes the data path: "passthrough", or "close-to-open (no
// passthrough: REASON)".
func (s *Server) Mode() string { return s.mode }

// Dir is the mount point.
func (s *Server) Dir() string { return s.dir }

// ID is the identity of the mount (mount id and device).
func (s *Server) ID() mountinfo.ID { return s.id }

// Point returns where the mount is now in this process's mount namespace
// (a directory above Dir may have been renamed), or mountinfo.ErrNotMounted.
func (s *Server) Point() (string, error) { return mountinfo.Where(s.id) }

// Unmount unmounts the mount, wherever it is now, and waits until serving
// has stopped. It never unmounts by the path it was mounted on, which may
// name another filesystem by now (mountinfo.Unmount). It fails with EBUSY
// while files under the mount are open (Detach takes it away anyway), and
// with mountinfo.ErrNotMounted, without waiting, when the mount is no
// longer in this process's mount table.
func (s *Server) Unmount() error {
	s.unmountMu.Lock()
	defer s.unmountMu.Unlock()
	select {
	case <-s.done:
		return nil
	default:
	}
	// go-fuse's own Server.Unmount calls umount2 on the path it mounted,
	// following a symbolic link there, and then waits for the serving loop
	// whatever it unmounted: it is never called once the mount is up.
	point, err := mountinfo.Unmount(s.id, false)
	if err != nil {
		select {
		case <-s.done: // unmounted from outside meanwhile
			return nil
		default:
		}
		if errors.Is(err, mountinfo.ErrNotMounted) {
			return fmt.Errorf("unmount %s: %w", s.dir, err)
		}
		return fmt.Errorf("unmount %s: %w (close the files open under it, or umount -l)", point, err)
	}
	<-s.done
	return nil
}

// Detach detaches the mount lazily, wherever it is now: it leaves the tree
// at once, and serving stops when the last file under it is closed. It
// does not wait for that.
func (s *Server) Detach() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if _, err := mountinfo.Unmount(s.id, true); err != nil {
		return fmt.Errorf("detach %s: %w", s.dir, err)
	}
	return nil
}

// Wait blocks until the mount is gone, whoever unmounted it, and the
// adapter has returned every open File and lookup reference to fsimpl.
func (s *Server) Wait() { <-s.done }

// Invalidation, for changes that did not come through this mount. Each
// call returns once the kernel has processed it (so that the change is seen
// through this mount as soon as the caller goes on), unless the kernel
// cannot have cached what it names (knows.go): then nothing is sent. A
// notification can wait for the kernel's lock on the directory or inode,
// which a request in flight to this server may hold: never call these from
// a FUSE handler, or while holding a lock a handler takes. What the kernel
// may cache, and so what a change through the other door must invalidate:
//
//   - a name created: InvalNewEntry(parent, name) (a negative entry may
//     be cached); removed or renamed: InvalEntry(parent, name) for each
//     name, or NotifyDelete for a removal;
//   - the directories changed (mtime, ctime, size, link count):
//     InvalInode(dir);
//   - an inode whose mode, owner, times, link count or xattrs changed:
//     InvalInode(ino);
//   - file data written behind the mount: InvalContent(ino) (with
//     passthrough only the size and times are cached, and they show up
//     after AttrTimeout anyway).
//
// FlushInvalidations waits until what was queued has been sent.

// InvalEntry tells the kernel to forget the name in parent (removed or
// renamed by the other door).
func (s *Server) InvalEntry(parent fsimpl.Ino, name string) {
	s.inval.sendNow(invalReq{kind: invalEntry, parent: parent, name: name})
}

// InvalNewEntry tells the kernel that name was just created in parent by
// the other door: only a cached negative entry can contradict it, so
// nothing is sent unless the kernel may hold one.
func (s *Server) InvalNewEntry(parent fsimpl.Ino, name string) {
	if !s.raw.mayHoldNegative(parent, name) {
		s.raw.stats.invalSkipped.Add(1)
		return
	}
	s.inval.sendNow(invalReq{kind: invalEntry, parent: parent, name: name})
}

// InvalInode tells the kernel to drop the cached attributes of ino, when
// it may hold them, and the cached listing of a directory listed since
// the last invalidation: its pages (FOPEN_CACHE_DIR, dir.go). The change
// feed calls it for a directory whenever an entry in it changes, and for
// any inode whose attributes change (a directory's ctime decides whether
// the next listing updates its atime).
func (s *Server) InvalInode(ino fsimpl.Ino) {
	attrs := s.raw.mayCacheAttrs(ino)
	if s.raw.lookups.takeListed(ino) {
		// The same one notification, with a data range: attributes
		// and pages (fs/fuse/inode.c fuse_reverse_inval_inode).
		s.inval.sendNow(invalReq{kind: invalData, ino: ino})
		return
	}
	if !attrs {
		s.raw.stats.invalSkipped.Add(1)
		return
	}
	s.inval.sendNow(invalReq{kind: invalAttr, ino: ino})
}

// InvalContent tells the kernel to drop the cached attributes and data pages
// of ino. With passthrough the pages are the backing file's own and nothing
// is cached, but the attributes still are.
func (s *Server) InvalContent(ino fsimpl.Ino) {
	if !s.raw.mayCacheData(ino) {
		s.raw.stats.invalSkipped.Add(1)
		return
	}
	s.inval.sendNow(invalReq{kind: invalData, ino: ino})
}

// InvalPerms tells the kernel that the mode or owner of ino, reached as
// name in parent, changed. Dropping its attributes is not enough: some of
// the kernel's checks read an inode's mode and owner without asking for
// fresh ones first (xattr_permission() tests a directory's sticky bit
// before inode_permission(), where FUSE refreshes stale attributes;
// check_sticky() reads the owner of the name being removed). So the entry
// goes too, when the kernel may hold it: the next path walk looks the name
// up again, and the lookup's reply carries the new attributes.
func (s *Server) InvalPerms(parent fsimpl.Ino, name string, ino fsimpl.Ino) {
	s.InvalInode(ino)
	if name == "" || !s.raw.mayHoldEntry(ino) {
		s.raw.stats.invalSkipped.Add(1)
		return
	}
	s.inval.sendNow(invalReq{kind: invalEntry, parent: parent, name: name})
}

// NotifyDelete tells the kernel that name in parent, which referred to
// child, is gone; unlike InvalEntry it also works when the entry is in use
// (a working directory), and it fails nothing when the kernel never saw it.
// A kernel that holds no lookup of child has no entry for it to drop.
func (s *Server) NotifyDelete(parent, child fsimpl.Ino, name string) {
	if !s.raw.mayHoldEntry(child) {
		s.raw.stats.invalSkipped.Add(1)
		return
	}
	s.inval.sendNow(invalReq{kind: invalDelete, parent: parent, ino: child, name: name})
}

// FlushInvalidations blocks until every invalidation queued before the call
// has been sent. Never call it from a FUSE handler or while holding a lock a
// FUSE handler takes.
func (s *Server) FlushInvalidations() { s.inval.flush() }

// closeOnExecDevFuse marks every /dev/fuse descriptor of this process
// close-on-exec. go-fuse opens the device without O_CLOEXEC when it mounts
// directly (as root), so every program this process started afterwards
// (a `btfuse run` target among them) inherited the connection: it could
// read the requests meant for this server, and it kept the connection
// alive after the daemon died.
func closeOnExecDevFuse() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == "/dev/fuse" {
			unix.CloseOnExec(fd)
		}
	}
}
