package fastlane

import (
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/supervisor"
)

// The metadata view: a process that was given the backing directory (see
// Opens in the package comment) is also given the filesystem's metadata
// view (fsimpl.FS.View), which it maps read-only and answers the
// stat family, access and readlink from in-process, without a round trip
// (preload/view.c). Such a process could read every backing file and, by
// its uid, the daemon's memory, so the view tells it nothing the kernel
// would refuse it. Others keep the channel.
//
// What the view cannot know, the daemon publishes: the view's usable flag
// (cleared while the supervisor's view of the mount is not plain:
// something mounted on or under it, the mount moved, a supervised process
// changed its view) and each process's hdrViewWalk (it may walk into the
// mount from /: admitted by the FUSE mount, allowed to search every
// directory above it), set at the handshake from the kernel's credentials
// and cleared, for good, before a credential change of the process
// proceeds. The library reads the view only while both are set.
//
// The library counts its answers in hdrHits; the daemon adds them to the
// observer's counters (door fast, the op of the syscall, served or error
// as the channel's events count) when its worker wakes, at least every
// WorkerPatience, and when the session ends. They leave no event in the
// ring: an answer from the view costs the daemon nothing per call.

// View ops, the index of their counters in hdrHits.
const (
	viewOpStat     = 0 // newfstatat and the stat family
	viewOpStatx    = 1
	viewOpAccess   = 2
	viewOpReadlink = 3
	viewOpOpen     = 4 // openat of a regular file for reading (pins.go)
	viewOpFstat    = 5 // fstat of a descriptor the library opened
	numViewOps     = 6
)

// viewOpEvents are the ops the counts are reported as.
var viewOpEvents = [numViewOps]event.Op{evNewfstatat, evStatx, evFaccessat2, evReadlinkat, evOpenat, evFstat}

// viewState is the server's side of the view.
type viewState struct {
	// path is the mount point when the view was first handed out: the
	// library routes by it, so the view is usable only while the mount
	// is there.
	path string
	stop func()
}

// viewFile returns a read-only descriptor of the view for a process that
// may have it (mayOpenBacking), starting the watch of the mount at the
// first one; nil when there is none.
func (s *Server) viewFile(th supervisor.Thread) *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	fd, err := s.fs.View()
	if err != nil {
		s.log.Warn("fast lane: no metadata view", "err", err)
		return nil
	}
	if s.view == nil {
		path, _ := s.sup.ViewPlain()
		v := &viewState{path: path}
		stop, err := s.sup.WatchView(s.refreshView)
		if err != nil {
			s.log.Warn("fast lane: no metadata view", "err", err)
			unix.Close(fd)
			return nil
		}
		v.stop = stop
		s.view = v
		s.sup.OnCredChange(s.credChanged)
		s.fs.SetPinner(s)
		dev, mnt := s.sup.MountIDs()
		s.fs.SetViewMount(dev, mnt, s.viewUsable())
	}
	return os.NewFile(uintptr(fd), "btfuse-view")
}

// viewUsable reports whether the view may be read at all now. Fault
// rules do not enter here: while one applies, each session's hdrFaults
// keeps the library from reading the view (faults.go).
func (s *Server) viewUsable() bool {
	path, plain := s.sup.ViewPlain()
	return plain && path == s.view.path
}

// refreshView is told that the mount or the directories above it may
// have changed: it sets the view's usable flag and each session's
// hdrViewWalk again.
func (s *Server) refreshView() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view == nil || s.closed {
		return
	}
	s.fs.SetViewUsable(s.viewUsable())
	for ss := range s.sessions {
		ss.setViewWalk()
	}
}

// credChanged is told, before it proceeds, that thread tid changes its
// credentials: its process stops reading the view (for good: the
// credentials the daemon could read now may not be the ones the change
// makes). So does a process whose memory tid shares (a vfork child's
// parent): the library of such a child reads its parent's hdrViewWalk
// (preload.c, fl_token).
func (s *Server) credChanged(tid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		if ss.view && (ss.hasThread(tid) || sameMemory(ss.tgid, tid)) {
			ss.credMoved.Store(true)
			ss.storeViewWalk(0)
		}
	}
}

// hasThread reports whether tid is a thread of the session's process.
func (ss *session) hasThread(tid int) bool {
	if tid == ss.tgid {
		return true
	}
	_, err := os.Stat("/proc/" + strconv.Itoa(ss.tgid) + "/task/" + strconv.Itoa(tid))
	return err == nil
}

// sameMemory reports whether threads a and b share their address space
// (kcmp KCMP_VM); when the kernel cannot say, it answers yes, which only
// turns a view off.
func sameMemory(a, b int) bool {
	const kcmpVM = 1
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpVM, 0, 0, 0)
	return e != 0 || r == 0
}

// setViewWalk sets hdrViewWalk from the process's credentials now.
//
// Preconditions: s.mu is held.
func (ss *session) setViewWalk() {
	if !ss.view || ss.credMoved.Load() {
		return
	}
	ok := false
	if th, good := ss.s.sup.LaneThread(ss.tgid); good && th.Tgid() == ss.tgid {
		ok = ss.s.mayOpenBacking(th) && ss.s.sup.MayWalkFromRoot(th)
	}
	v := uint32(0)
	if ok {
		v = 1
	}
	ss.storeViewWalk(v)
}

// storeViewWalk sets hdrViewWalk unless the segment is already released
// (its worker unmaps it before the session leaves Server.sessions).
func (ss *session) storeViewWalk(v uint32) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.released {
		ss.seg.store(hdrViewWalk, v)
	}
}

// flushHits adds what the library counted since the last flush to the
// observer's counters.
func (ss *session) flushHits() {
	c, ok := ss.s.obs.(event.Counter)
	if !ok || !ss.view {
		return
	}
	for op := 0; op < numViewOps; op++ {
		for k, out := range []event.Outcome{event.Served, event.Error} {
			off := hdrHits + (2*op+k)*8
			n := ss.seg.getU64(off)
			if d := n - ss.hits[2*op+k]; d != 0 {
				c.Count(viewOpEvents[op], event.DoorFast, out, d)
				ss.hits[2*op+k] = n
			}
		}
	}
}

// viewSessionState is what a session keeps of the view.
type viewSessionState struct {
	view      bool // the process was given the view
	credMoved atomic.Bool
	hits      [2 * numViewOps]uint64 // counts already reported
}
