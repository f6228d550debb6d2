package supervisor

import (
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// What the fast lane's metadata view (fsimpl.FS.View) needs to know of the
// world outside the filesystem, which the processes that read it cannot
// judge: whether the mount is plain (ViewPlain), whether a process may
// walk into it from / (MayWalkFromRoot), and when either may have changed
// (WatchView, OnCredChange). The view answers only while all say yes;
// otherwise its readers ask the channel, which asks LaneAt per call.

// MountIDs are the FUSE mount's st_dev and mount id, as the lanes report
// them in struct stat and statx.
func (s *Supervisor) MountIDs() (dev, mntID uint64) { return s.dev, s.mntID }

// ViewPlain reports the mount's path now and whether the lanes may answer
// for it without asking per call: no supervised process changed its view,
// and nothing is mounted on or under the mount (see mountView).
func (s *Supervisor) ViewPlain() (path string, plain bool) {
	if s.viewChanged.Load() {
		return "", false
	}
	v := s.currentView()
	return v.path, !v.kernelOnly
}

// MayWalkFromRoot reports whether th may walk from / into the mount as
// LaneAt would let it: admitted by the FUSE mount, and allowed to search
// every directory above the mount point with every credential it walks
// with.
func (s *Supervisor) MayWalkFromRoot(th Thread) bool {
	if s.viewChanged.Load() || th.cr == nil || th.cr.foreign || !s.admission.admits(th.cr) {
		return false
	}
	v := s.currentView()
	return !v.kernelOnly && v.reachable(th.cr, "/")
}

// OnCredChange sets fn to be told, before the syscall proceeds, of every
// credential change a supervised thread makes (set*id, capset, and the
// view changes that imply one); nil removes it.
func (s *Supervisor) OnCredChange(fn func(tid int)) {
	if fn == nil {
		s.credHook.Store(nil)
		return
	}
	s.credHook.Store(&fn)
}

// credHookFn is the OnCredChange hook, or nil.
type credHookFn = atomic.Pointer[func(tid int)]

// WatchView calls fn (from a goroutine of its own) whenever ViewPlain or
// MayWalkFromRoot may have changed their answers: the mount table changed
// (its own descriptor of /proc/self/mountinfo, whose POLLPRI is per open
// file, so the lanes' polls do not take it away), a directory above the
// mount point was moved, removed or changed its mode, owner or ACL (an
// inotify descriptor of its own), or a supervised process changed its
// view. stop ends it and waits.
func (s *Supervisor) WatchView(fn func()) (stop func(), err error) {
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	mfd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(pipe[0])
		unix.Close(pipe[1])
		return nil, err
	}
	s.viewHook.Store(&fn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ino, path := -1, ""
		defer func() { unix.Close(ino) }()
		for {
			if p, _ := s.ViewPlain(); p != path || ino < 0 {
				unix.Close(ino)
				path = p
				ino = watchDirsAbove(path)
			}
			fds := []unix.PollFd{{Fd: int32(mfd), Events: unix.POLLPRI}, {Fd: int32(ino), Events: unix.POLLIN},
				{Fd: int32(pipe[0]), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, int(time.Second/time.Millisecond))
			if fds[2].Revents != 0 {
				return
			}
			if err != nil || n == 0 {
				continue // EINTR, or a timeout
			}
			if fds[1].Revents != 0 {
				var buf [4096]byte
				for k, _ := unix.Read(ino, buf[:]); k > 0; k, _ = unix.Read(ino, buf[:]) {
				}
			}
			fn()
		}
	}()
	return func() {
		s.viewHook.Store(nil)
		unix.Write(pipe[1], []byte{0})
		<-done
		unix.Close(pipe[0])
		unix.Close(pipe[1])
		unix.Close(mfd)
	}, nil
}

// watchDirsAbove is an inotify descriptor watching the directories above
// path as mountWatch.watchAbove does, or -1.
func watchDirsAbove(p string) int {
	ino, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return -1
	}
	if p == "" {
		return ino
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		unix.InotifyAddWatch(ino, dir, unix.IN_MOVE_SELF|unix.IN_DELETE_SELF|unix.IN_ATTRIB|unix.IN_ONLYDIR|unix.IN_DONT_FOLLOW)
		if dir == "/" || dir == "." {
			break
		}
	}
	return ino
}
