package supervisor

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
)

// A served call skips the VFS of the FUSE mount, so whatever the kernel
// would apply there is invisible to it. mountView follows the mount in
// the daemon's mount namespace (/proc/self/mountinfo, which can be polled
// for changes) and says when only the kernel can answer: the mount is
// read-only or noexec, something is mounted on or under it, or it is gone.
// It also follows the mount point when a directory above it is renamed, so
// a path is judged by where the mount is, not where it was.

// mountView is the state of the mount; it is replaced, never changed.
type mountView struct {
	// path is the mount point now.
	path string
	// kernelOnly: every call under the mount goes to the kernel.
	kernelOnly bool
	// atPath: path named the root of the mount when the view was made.
	atPath bool
	// above are the directories above the mount point, top first, and
	// aboveOpen says that anyone may search all of them (ancestors.go).
	above     []ancestor
	aboveOpen bool
}

// viewOf computes the view of mount id from the entries.
func viewOf(entries []mountinfo.Mount, id uint64) mountView {
	var self *mountinfo.Mount
	for i := range entries {
		if entries[i].ID == id {
			self = &entries[i]
		}
	}
	if self == nil {
		return mountView{kernelOnly: true}
	}
	v := mountView{path: self.Point}
	if self.HasOpt("ro") || self.HasOpt("noexec") {
		v.kernelOnly = true
	}
	for _, e := range entries {
		if e.ID == id || e.ID == self.Parent {
			continue
		}
		if e.Point == self.Point || strings.HasPrefix(e.Point, strings.TrimSuffix(self.Point, "/")+"/") {
			v.kernelOnly = true // stacked on the mount, or under it
		}
	}
	return v
}

// mountWatch keeps the view of the mount current.
type mountWatch struct {
	// fd is /proc/self/mountinfo, open since New: the kernel signals a
	// change of the mount table by POLLPRI on it, once, to whoever polls
	// first. So it is a raw descriptor: an os.File would be registered
	// with the Go runtime's epoll, whose polls take the signal away.
	fd int
	// ino is an inotify descriptor watching the directories above the
	// mount point for being moved or removed (IN_MOVE_SELF,
	// IN_DELETE_SELF): a rename changes no mount table, and this is how it
	// is seen without a walk of the mount path on every call; and for a
	// change of mode, owner or ACL (IN_ATTRIB), which decides who may walk
	// through them into the mount. Raw, like fd.
	ino  int
	mu   sync.Mutex // serialises the poll and the refresh
	view atomic.Pointer[mountView]
	// alarm rings when the mount table or the directories above the
	// mount may have changed (viewalarm.go); nil: poll on every call.
	// Set and cleared with mu held.
	alarm atomic.Pointer[alarm]
	// stale: a refresh after the alarm rang is under way (or failed), so
	// view may be older than a change the alarm no longer shows.
	stale atomic.Bool
}

// currentView returns the view of the mount, made again first when the
// mount table changed (a mount or remount signals it before it returns)
// or a directory above the mount point was moved, removed or changed its
// mode, owner or ACL (inotify queues the event before the syscall
// returns). While the view alarm has not rung, nothing changed since its
// last rearm and the view is current: no syscall. Otherwise, or without
// the alarm, one poll(2) of two descriptors, with no wait, says whether
// to make the view again.
func (s *Supervisor) currentView() *mountView {
	w := &s.mounts
	// The alarm first: a refresh sets stale before it quiets the alarm,
	// and clears it only once the view is stored.
	if a := w.alarm.Load(); a != nil && !a.rung() && !w.stale.Load() {
		return w.view.Load()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.alarm.Load()
	if a == nil {
		if w.changed() {
			s.refreshLocked()
		}
		return w.view.Load()
	}
	// Rearm, then poll: a change before the rearm shows in the poll, one
	// after it rings the alarm. A refresh replaces the inotify
	// descriptor, so it is rearmed and polled again. A ring that does not
	// settle leaves stale set: the next call comes here again.
	w.stale.Store(true)
	for range 3 {
		if e := a.rearm(w.ino); e != 0 {
			// A ring that cannot be rearmed would send every call
			// here: poll on every call instead, as without it.
			s.log.Warn("view alarm failed: polling the mount table on every call", "err", e)
			w.alarm.Store(nil)
			a.stop()
			w.stale.Store(false)
			if w.changed() {
				s.refreshLocked()
			}
			break
		}
		if !w.changed() {
			w.stale.Store(false)
			break
		}
		s.refreshLocked()
	}
	return w.view.Load()
}

// changed polls the mount table and the inotify descriptor, without a
// wait: true when either signalled, or the poll failed.
//
// Preconditions: w.mu is held.
func (w *mountWatch) changed() bool {
	fds := [2]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLPRI}, {Fd: int32(w.ino), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	for err == unix.EINTR {
		n, err = unix.Poll(fds[:], 0)
	}
	return n > 0 || err != nil
}

// refreshLocked makes the view again.
//
// Preconditions: s.mounts.mu is held.
func (s *Supervisor) refreshLocked() {
	nv := s.watchedView()
	s.mounts.view.Store(&nv)
}

// watchedView makes the view and watches the directories above its path.
// A move between the two is caught by checking the path once more after
// the watches are in place; the directories' modes, owners and ACLs are
// read only then, so a change after the read is an event on the watch.
func (s *Supervisor) watchedView() mountView {
	var v mountView
	for try := 0; try < 3; try++ {
		v = s.makeView()
		s.mounts.watchAbove(v.path)
		v.above, v.aboveOpen = aboveMount(v.path)
		if s.isMountRoot(v.path) == v.atPath {
			return v
		}
	}
	v.kernelOnly = true // still moving
	return v
}

// watchAbove replaces the inotify watches with one on each directory above
// the mount point p.
func (w *mountWatch) watchAbove(p string) {
	if w.ino > 0 {
		unix.Close(w.ino)
	}
	w.ino, _ = unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if w.ino < 0 || p == "" {
		return
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		unix.InotifyAddWatch(w.ino, dir, unix.IN_MOVE_SELF|unix.IN_DELETE_SELF|unix.IN_ATTRIB|unix.IN_ONLYDIR|unix.IN_DONT_FOLLOW)
		if dir == "/" || dir == "." {
			break
		}
	}
}

// makeView reads the mount table and checks the mount's path.
func (s *Supervisor) makeView() mountView {
	entries, err := mountinfo.Read()
	if err != nil {
		return mountView{kernelOnly: true}
	}
	v := viewOf(entries, s.mntID)
	v.atPath = s.isMountRoot(v.path)
	if !v.atPath {
		v.kernelOnly = true // moving, or not at any path
	}
	return v
}

// isMountRoot reports whether path names the root of the mount, as the
// daemon sees it. AT_STATX_DONT_SYNC keeps it from asking the FUSE door.
func (s *Supervisor) isMountRoot(path string) bool {
	if path == "" {
		return false
	}
	var stx unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if unix.Statx(unix.AT_FDCWD, path, flags, unix.STATX_MNT_ID, &stx) != nil {
		return false
	}
	return stx.Mnt_id == s.mntID && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// openMounts starts following the mount (s.mntID).
func (s *Supervisor) openMounts() error {
	fd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	v := s.watchedView()
	if v.path == "" {
		unix.Close(fd)
		s.mounts.close()
		return fmt.Errorf("mount id %d not in /proc/self/mountinfo", s.mntID)
	}
	s.mounts.fd = fd
	s.mounts.view.Store(&v)
	if a, err := newViewAlarm(s.mounts.ino); err == nil {
		s.mounts.alarm.Store(a)
	} else {
		s.log.Debug("view alarm unavailable: polling the mount table on every call", "err", err)
	}
	return nil
}

func (w *mountWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a := w.alarm.Swap(nil); a != nil {
		a.stop()
	}
	for _, fd := range []*int{&w.fd, &w.ino} {
		if *fd > 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}
