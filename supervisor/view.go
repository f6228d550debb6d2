package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
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
}

// mountEntry is one line of /proc/PID/mountinfo.
type mountEntry struct {
	id, parent uint64
	point      string // mount point, unescaped
	opts       string // per-mount options (ro, noexec, ...)
	superOpts  string // the filesystem's options
}

// parseMountinfo parses the text of a mountinfo file; lines it cannot read
// are skipped.
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		head, tail, ok := strings.Cut(line, " - ")
		f := strings.Fields(head)
		t := strings.Fields(tail)
		if !ok || len(f) < 6 || len(t) < 3 {
			continue
		}
		id, err1 := strconv.ParseUint(f[0], 10, 64)
		parent, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, mountEntry{id: id, parent: parent, point: unescapeMount(f[4]), opts: f[5], superOpts: t[2]})
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 and the like) of a
// mountinfo path.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// viewOf computes the view of mount id from the entries.
func viewOf(entries []mountEntry, id uint64) mountView {
	var self *mountEntry
	for i := range entries {
		if entries[i].id == id {
			self = &entries[i]
		}
	}
	if self == nil {
		return mountView{kernelOnly: true}
	}
	v := mountView{path: self.point}
	for _, o := range strings.Split(self.opts, ",") {
		if o == "ro" || o == "noexec" {
			v.kernelOnly = true
		}
	}
	for _, e := range entries {
		if e.id == id || e.id == self.parent {
			continue
		}
		if e.point == self.point || strings.HasPrefix(e.point, strings.TrimSuffix(self.point, "/")+"/") {
			v.kernelOnly = true // stacked on the mount, or under it
		}
	}
	return v
}

// readMounts reads /proc/self/mountinfo.
func readMounts() ([]mountEntry, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountinfo(string(b)), nil
}

// mountWatch keeps the view of the mount current.
type mountWatch struct {
	// fd is /proc/self/mountinfo, open since New: the kernel signals a
	// change of the mount table by POLLPRI on it, once, to whoever polls
	// first. So it is a raw descriptor: an os.File would be registered
	// with the Go runtime's epoll, whose polls take the signal away.
	fd   int
	mu   sync.Mutex // serialises the poll and the refresh
	view atomic.Pointer[mountView]
}

// currentView returns the view of the mount, reread first when the mount
// table changed (a mount or remount signals it before it returns) or when
// the mount is no longer the root of what its path names (a directory
// above it was renamed, and maybe replaced). The cost is a poll(2) with
// no wait and a statx(2) of the mount path.
func (s *Supervisor) currentView() *mountView {
	w := &s.mounts
	w.mu.Lock()
	defer w.mu.Unlock()
	fds := [1]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLPRI}}
	n, err := unix.Poll(fds[:], 0)
	for err == unix.EINTR {
		n, err = unix.Poll(fds[:], 0)
	}
	v := w.view.Load()
	if n > 0 || !v.kernelOnly && !s.isMountRoot(v.path) {
		nv := mountView{kernelOnly: true}
		if entries, err := readMounts(); err == nil {
			nv = viewOf(entries, s.mntID)
		}
		if !nv.kernelOnly && !s.isMountRoot(nv.path) {
			nv.kernelOnly = true // moving again, or not at any path
		}
		w.view.Store(&nv)
		v = &nv
	}
	return v
}

// isMountRoot reports whether path names the root of the mount, as the
// daemon sees it. AT_STATX_DONT_SYNC keeps it from asking the FUSE door.
func (s *Supervisor) isMountRoot(path string) bool {
	var stx unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if unix.Statx(unix.AT_FDCWD, path, flags, unix.STATX_MNT_ID, &stx) != nil {
		return false
	}
	return stx.Mnt_id == s.mntID && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// openMountWatch starts following mount id.
func (w *mountWatch) open(id uint64) error {
	fd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	entries, err := readMounts()
	if err != nil {
		unix.Close(fd)
		return err
	}
	v := viewOf(entries, id)
	if v.path == "" {
		unix.Close(fd)
		return fmt.Errorf("mount id %d not in /proc/self/mountinfo", id)
	}
	w.fd = fd
	w.view.Store(&v)
	return nil
}

func (w *mountWatch) close() {
	if w.fd > 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
