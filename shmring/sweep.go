package shmring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockHeld reports whether another process holds the flock on fd.
func lockHeld(fd int) bool {
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false
}

// pidAlive reports whether pid names a process (perhaps of another user).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// headerPID reads the pid from a segment file without trusting the rest.
func headerPID(fd int) int {
	hb := alignedCopy(make([]byte, headerSize))
	if n, err := unix.Pread(fd, hb, 0); err != nil || n != headerSize || string(hdrOf(hb).magic[:]) != Magic {
		return 0
	}
	return int(hdrOf(hb).pid)
}

// removeIfDead removes the segment at path when its daemon is gone (its
// lock is free, or its pid no longer exists). A file that is not ours is
// left alone; a live one is an error. tries is how many times a held lock
// is tried again (a reader checking liveness holds it for an instant).
func removeIfDead(path string, tries int) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shared memory segment %s: %w: remove it if no btfuse daemon uses it", path, err)
	}
	defer f.Close()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s exists and is not a btfuse segment of yours: remove it", path)
	}
	for i := 0; ; i++ {
		if !lockHeld(fd) {
			break
		}
		pid := headerPID(fd)
		if pid != 0 && !pidAlive(pid) {
			break
		}
		if i >= tries {
			return fmt.Errorf("shared memory segment %s is in use by btfuse daemon pid %d", path, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var cur unix.Stat_t
	if unix.Lstat(path, &cur) == nil && cur.Ino == st.Ino && cur.Dev == st.Dev {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the segment of a dead daemon: %w", err)
		}
	}
	return nil
}

// Sweep removes the segments in dir ("" for DefaultDir) left by dead
// daemons and returns their paths. Segments it cannot judge are left.
func Sweep(dir string) []string {
	if dir == "" {
		dir = DefaultDir
	}
	names, _ := filepath.Glob(filepath.Join(dir, Prefix+"*"))
	var removed []string
	for _, p := range names {
		if strings.ContainsAny(filepath.Base(p)[len(Prefix):], "/.") {
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if removeIfDead(p, 0) == nil {
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				removed = append(removed, p)
			}
		}
	}
	return removed
}
