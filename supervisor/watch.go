package supervisor

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// writerWatch keeps, for every descriptor opened for writing through this
// door, a dup of the backing file, and notices the target's close with
// kcmp: then the FUSE door's cached attributes of the inode are dropped
// (close-to-open coherence for size and mtime seen from outside; with
// passthrough the data itself is the backing file's and never stale).
type writerWatch struct {
	mu      sync.Mutex
	entries []watched // guarded by mu
	running bool      // guarded by mu
}

type watched struct {
	pid, fd, dup int
	ino          fsimpl.Ino
}

// watchPeriod is how often open writers are checked.
const watchPeriod = 5 * time.Millisecond

// maxWatched bounds the dups held; past it, new writers are not watched
// (their inode is invalidated at once instead).
const maxWatched = 4096

func (s *Supervisor) watchWriter(pid, fd int, f *fsimpl.File) {
	if s.inval == nil {
		return
	}
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.entries) >= maxWatched {
		s.invalContent(f.Ino)
		return
	}
	dup, err := unix.FcntlInt(uintptr(f.Fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		s.invalContent(f.Ino)
		return
	}
	w.entries = append(w.entries, watched{pid: pid, fd: fd, dup: dup, ino: f.Ino})
	if !w.running {
		w.running = true
		go s.runWatch()
	}
}

func (s *Supervisor) runWatch() {
	w := &s.watch
	self := s.self
	t := time.NewTicker(watchPeriod)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		keep := w.entries[:0]
		for _, e := range w.entries {
			if r, errno := kcmpFile(e.pid, self, e.fd, e.dup); errno == 0 && r == 0 {
				keep = append(keep, e)
				continue
			}
			unix.Close(e.dup)
			s.invalContent(e.ino)
		}
		w.entries = keep
		if len(keep) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
}

// closeWatch drops every watched writer, invalidating their inodes.
func (s *Supervisor) closeWatch() {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.entries {
		unix.Close(e.dup)
		s.invalContent(e.ino)
	}
	w.entries = nil
}
