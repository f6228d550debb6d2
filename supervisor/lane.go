package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// This file is what another lane (the fast lane's channel, package
// fastlane) needs to answer a path call exactly as the seccomp lane would:
// the same judgement of the path, the same credential cache (whose entries
// set*id and capset notifications invalidate), the same admission rule of
// the FUSE mount and the same struct stat.

// Thread is a thread of a supervised process, as the lane resolved it.
type Thread struct {
	cr *taskCred
}

// Tgid is the thread's process, from /proc/TID/status.
func (t Thread) Tgid() int { return t.cr.tgid }

// AccessCred is the credential access(2) checks with for flags (the real
// ids unless AT_EACCESS).
func (t Thread) AccessCred(flags int) *fsimpl.Cred { return t.cr.accessCred(flags) }

// LaneAt resolves path, given to thread tid with dirfd (AT_FDCWD: the
// thread's working directory), as the seccomp lane resolves a path
// argument, into at with the thread's credentials, umask and the mount's
// current path. flags are fsimpl.AtFollow or 0. ok false means only the
// kernel may answer: the path is empty, not lexically under the mount, or
// its start cannot be read; the thread is gone, in another user namespace,
// not let in by the FUSE mount, or may not search a directory above the
// mount that the path walks through (ancestors.go); or the mount's view,
// or the view of any supervised process (chroot, unshare, setns,
// Landlock), has changed.
func (s *Supervisor) LaneAt(tid int, dirfd int32, path string, flags int, at *fsimpl.At) (Thread, bool) {
	th, ok := s.LaneThread(tid)
	if !ok || !s.LaneAtAs(th, tid, dirfd, path, flags, at) {
		return Thread{}, false
	}
	return th, true
}

// LaneAtAs is LaneAt for a Thread the lane got from LaneThread for tid and
// still holds valid (CredGen): everything but reading the credentials.
func (s *Supervisor) LaneAtAs(th Thread, tid int, dirfd int32, path string, flags int, at *fsimpl.At) bool {
	if path == "" || th.cr == nil || s.viewChanged.Load() {
		return false
	}
	full, start, ok := absPath(tid, dirfd, path)
	if !ok {
		return false
	}
	view := s.currentView()
	if view.kernelOnly {
		return false
	}
	rest, ok := fsimpl.Within(view.path, full)
	if !ok || !view.reachable(th.cr, start) {
		return false
	}
	cr := th.cr
	*at = fsimpl.At{Cred: &cr.fs, Dir: fsimpl.RootIno, Path: rest, Flags: flags & fsimpl.AtFollow, Mount: view.path, Umask: cr.umask}
	return true
}

// LaneThread returns the credentials of thread tid for a call that names
// no path (fstat of a descriptor the lane opened); ok as for LaneAt.
func (s *Supervisor) LaneThread(tid int) (Thread, bool) {
	if s.viewChanged.Load() {
		return Thread{}, false
	}
	cr, e := s.creds.get(tid)
	if e != 0 || cr.foreign || !s.admission.admits(cr) {
		return Thread{}, false
	}
	return Thread{cr: cr}, true
}

// CredGen is the generation of every thread's credentials: a Thread that
// LaneThread returned after CredGen gave (gen, true) is still right while
// CredGen gives gen, for as long as its TID names the same thread (a lane
// that keeps Threads must notice a TID reused by a new thread itself).
// ok false: a credential change may be under way (the kernel makes it
// after the notification, at a moment the supervisor does not see), so
// nothing may be kept now.
func (s *Supervisor) CredGen() (gen uint64, ok bool) {
	gen = s.creds.gen.Load()
	return gen, monoNow() >= s.creds.quiet.Load()
}

// StatOf is the struct stat both lanes report for a: the FUSE mount's
// device, the filesystem's inode numbers.
func (s *Supervisor) StatOf(a *fsimpl.Attr) unix.Stat_t { return s.statOf(a) }

// StatxOf is the struct statx both lanes report for a.
func (s *Supervisor) StatxOf(a *fsimpl.Attr) unix.Statx_t { return s.statxOf(a) }

// Cred is the credential the thread's permission checks use (fsuid,
// fsgid, groups, effective capabilities).
func (t Thread) Cred() *fsimpl.Cred { return &t.cr.fs }
