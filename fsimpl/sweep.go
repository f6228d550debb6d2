package fsimpl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// SweepShmBacking removes the BackingShm directories in dir ("" means
// /dev/shm) whose daemon is gone, and returns their paths. A daemon killed
// by SIGKILL cannot remove its own, and it holds the user's file contents:
// the next daemon, 'btfuse umount' and 'btfuse status' sweep them.
//
// Only what is provably a dead daemon's store is touched: a directory (never
// through a symbolic link) named btfuse-data-PID-RANDOM, owned by this
// process's effective uid, with mode 0700, whose flock nobody holds (its
// daemon held it from before the directory got that name until it died).
// Of its entries only regular files and symbolic links are unlinked (a
// daemon makes only regular files there), without following anything; a
// directory that holds anything else is left alone. Other users'
// directories are never touched, by root neither.
func SweepShmBacking(dir string) (removed []string, err error) {
	if dir == "" {
		dir = shmDir
	}
	pfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", dir, err)
	}
	defer unix.Close(pfd)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		if !isShmBackingName(e.Name()) {
			continue
		}
		ok, err := sweepOne(pfd, e.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err))
		}
		if ok {
			removed = append(removed, filepath.Join(dir, e.Name()))
		}
	}
	return removed, errors.Join(errs...)
}

// isShmBackingName reports whether name has the form btfuse-data-PID-RANDOM.
func isShmBackingName(name string) bool {
	rest, ok := strings.CutPrefix(name, shmBackingPrefix)
	if !ok {
		return false
	}
	pid, random, ok := strings.Cut(rest, "-")
	if !ok || random == "" || strings.ContainsAny(random, "/-") {
		return false
	}
	_, err := strconv.ParseUint(pid, 10, 31)
	return err == nil
}

// sweepOne removes the directory name in the directory pfd if it is a dead
// daemon's store; it reports whether it did.
func sweepOne(pfd int, name string) (bool, error) {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, nil // gone, a symbolic link, or not a directory
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	if st.Uid != uint32(os.Geteuid()) || st.Mode&0o7777 != 0o700 {
		return false, nil
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false, nil // its daemon lives (EWOULDBLOCK), or no lock to be had
	}
	// Held from here on: a second sweeper skips it.
	dfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	d := os.NewFile(uintptr(dfd), name)
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return false, err
	}
	for _, n := range names {
		var fst unix.Stat_t
		if err := unix.Fstatat(fd, n, &fst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		if t := fst.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFLNK {
			return false, fmt.Errorf("holds %s, which no btfuse daemon makes: left alone", n)
		}
		if err := unix.Unlinkat(fd, n, 0); err != nil && err != unix.ENOENT {
			return false, err
		}
	}
	// The name must still be the directory emptied (rmdir removes only
	// an empty one in any case).
	var cur unix.Stat_t
	if err := unix.Fstatat(pfd, name, &cur, unix.AT_SYMLINK_NOFOLLOW); err != nil || cur.Ino != st.Ino || cur.Dev != st.Dev {
		return false, nil
	}
	if err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR); err != nil {
		return false, err
	}
	return true, nil
}
