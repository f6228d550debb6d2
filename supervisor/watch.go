package supervisor

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// servedWatch keeps the fsimpl File of every descriptor installed into a
// target until the target closes it, which closes need no notification
// to tell: kcmp(KCMP_FILE) of the target's descriptor against the File's
// own (the same open file, installed by ADDFD) fails once it is closed.
// Holding the File keeps the inode alive the way the kernel's open file
// does: a file unlinked while open still fstats (nlink 0, its own mode)
// and takes fchmod through the served descriptor. When a writer closes,
// the FUSE door's cached attributes of the inode are dropped
// (close-to-open coherence for size and mtime seen from outside; with
// passthrough the data itself is the backing file's and never stale).
//
// A writer's descriptor is followed to a copy under a low number when the
// original closes: a shell's 'cmd > f' opens f, dup2()s it to 1 and closes
// the original, and the file is written through 1 for as long as cmd runs
// (the FUSE door must not cache its attributes meanwhile, fsimpl.HandOut).
// Descriptors up to maxFollowFd are searched, with one kcmp each.
//
// The slot table learns here when a served descriptor is closed (drop):
// until then its slot is never chosen again.
//
// What it cannot see: a copy in another process (fork, SCM_RIGHTS), a
// reader's copy, or a writer's above maxFollowFd, once the original is
// closed. The File is then released early, and an unlinked inode is freed
// while that copy still reads and writes its backing file: fstat through
// it shows the backing file.
type servedWatch struct {
	mu      sync.Mutex
	entries []watched // guarded by mu
	running bool      // guarded by mu
	closing bool      // guarded by mu: closeWatch was called
	// runner is the checking goroutine, waited for by closeWatch: the
	// Files it is releasing must be back before fsimpl is closed.
	runner sync.WaitGroup
}

type watched struct {
	pid, fd int
	f       *fsimpl.File
	writer  bool
}

// maxFollowFd is the highest descriptor searched for a copy of a closed
// writer: the standard streams and the numbers shells redirect to.
const maxFollowFd = 9

// watchPeriod is how often served descriptors are checked.
const watchPeriod = 5 * time.Millisecond

// maxWatched bounds the Files held; past it, new descriptors are not
// watched (their File is released at once, a writer's inode invalidated).
const maxWatched = 4096

// watchServed takes f over until descriptor fd of process pid is closed,
// or releases it at once when the table is full.
func (s *Supervisor) watchServed(pid, fd int, f *fsimpl.File, writer bool) {
	w := &s.watch
	w.mu.Lock()
	if len(w.entries) >= maxWatched || w.closing {
		w.mu.Unlock()
		ino := f.Ino
		s.fs.Release(f)
		if writer {
			s.writerClosed(ino)
		}
		return
	}
	w.entries = append(w.entries, watched{pid: pid, fd: fd, f: f, writer: writer})
	if !w.running {
		w.running = true
		w.runner.Add(1)
		go s.runWatch()
	}
	w.mu.Unlock()
}

// The checks of a pass run without w.mu, so that an install (which
// appends under it) never waits for a pass over many descriptors; and the
// pause between passes grows with their number, so that the kcmp calls of
// the watch take a bounded share of a CPU.
func (s *Supervisor) runWatch() {
	w := &s.watch
	defer w.runner.Done()
	var snap []watched
	var open []bool
	var closed []watched
	pause := watchPeriod
	for {
		time.Sleep(pause)
		w.mu.Lock()
		if w.closing {
			w.running = false
			w.mu.Unlock()
			return
		}
		// Only this goroutine removes entries and installs only append,
		// so the first len(snap) entries stay the snapshot's until the
		// lock is taken again below.
		snap = append(snap[:0], w.entries...)
		w.mu.Unlock()
		open = open[:0]
		for i := range snap {
			open = append(open, s.stillOpen(&snap[i])) // may follow a writer to a new fd
		}
		w.mu.Lock()
		keep := w.entries[:0]
		for i, e := range w.entries {
			if i >= len(snap) {
				keep = append(keep, e) // installed during the pass
				continue
			}
			if open[i] {
				keep = append(keep, snap[i])
				continue
			}
			s.slots.drop(e.pid, e.fd)
			closed = append(closed, e)
		}
		clear(w.entries[len(keep):])
		w.entries = keep
		done := len(keep) == 0 || w.closing
		if done {
			w.running = false
		}
		w.mu.Unlock()
		// Released and invalidated outside the lock: an invalidation can
		// wait on the kernel, and install() takes the lock.
		s.releaseWatched(closed)
		clear(closed)
		closed = closed[:0]
		if done {
			return
		}
		pause = watchPeriod + time.Duration(len(keep))*watchPerEntry
	}
}

// watchPerEntry lengthens the pause between passes per descriptor watched.
const watchPerEntry = 10 * time.Microsecond

// stillOpen reports whether e's process still has e's file open: at e.fd,
// or, for a writer, at a low descriptor it was copied to, which e then
// follows.
func (s *Supervisor) stillOpen(e *watched) bool {
	if r, errno := kcmpFile(e.pid, s.self, e.fd, e.f.Fd); errno == 0 && r == 0 {
		return true
	}
	if !e.writer {
		return false
	}
	for fd := 0; fd <= maxFollowFd; fd++ {
		r, errno := kcmpFile(e.pid, s.self, fd, e.f.Fd)
		if errno == unix.ESRCH {
			return false // the process is gone
		}
		if errno == 0 && r == 0 {
			s.slots.drop(e.pid, e.fd)
			e.fd = fd
			return true
		}
	}
	return false
}

func (s *Supervisor) releaseWatched(ws []watched) {
	for _, e := range ws {
		ino := e.f.Ino
		s.fs.Release(e.f)
		if e.writer {
			s.writerClosed(ino)
		}
	}
}

// closeWatch releases every File held, invalidating the writers' inodes.
func (s *Supervisor) closeWatch() {
	w := &s.watch
	w.mu.Lock()
	w.closing = true
	ws := w.entries
	w.entries = nil
	w.mu.Unlock()
	w.runner.Wait()
	s.releaseWatched(ws)
}

// writerClosed reports that a served writer of ino is closed: what it
// wrote went to the backing file without fsimpl seeing it.
func (s *Supervisor) writerClosed(ino fsimpl.Ino) {
	s.fs.Changed(fsimpl.DoorRun, fsimpl.Change{Kind: fsimpl.ChangeData, Ino: ino})
}
