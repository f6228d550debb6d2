package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
)

// statTimeout bounds a stat of a mount point: a FUSE mount whose daemon is
// alive but stuck would block it forever.
const statTimeout = 5 * time.Second

// errNoAnswer is a stat that did not return within statTimeout.
var errNoAnswer = errors.New("stat did not return")

// findMount returns the topmost mount at dir, or nil.
func findMount(dir string) (*mountinfo.Mount, error) {
	ms, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	return mountinfo.At(ms, dir), nil
}

// statMountpoint stats dir, giving up after statTimeout.
func statMountpoint(dir string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := withTimeout(func() error { return unix.Stat(dir, &st) }); err != nil {
		return nil, err
	}
	return &st, nil
}

// probeFUSE asks the FUSE server of the mount at dir for its statfs, which
// the kernel never answers from a cache (stat may, for up to the attribute
// timeout after the daemon died). A dead daemon shows as ENOTCONN, a stuck
// one as errNoAnswer.
func probeFUSE(dir string) error {
	var sfs unix.Statfs_t
	return withTimeout(func() error { return unix.Statfs(dir, &sfs) })
}

// withTimeout runs fn, giving up after statTimeout; fn then goes on in the
// background (a hung FUSE request cannot be cancelled from here).
func withTimeout(fn func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(statTimeout):
		return errNoAnswer
	}
}

// isDeadConn reports a stat error that means "a FUSE mount whose daemon is
// gone".
func isDeadConn(err error) bool {
	return errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNABORTED)
}

// fusectlDir is where the fusectl filesystem lists FUSE connections.
const fusectlDir = "/sys/fs/fuse/connections"

// fusectlMagic is FUSE_CTL_SUPER_MAGIC, the statfs type of fusectl.
const fusectlMagic = 0x65735543

// clearStale removes the FUSE mount m at dir whose daemon is gone: a lazy
// unmount, and when that fails, or when abort is set (a daemon that hangs),
// an abort of the connection through fusectl first. The mount is unmounted
// by its identity (mountinfo.Unmount), never by what dir names meanwhile.
func clearStale(dir string, m *mountinfo.Mount, abort bool) error {
	if !m.IsFUSE() {
		return fmt.Errorf("%s is a %s mount, not a FUSE one", dir, m.FSType)
	}
	if !abort {
		if _, err := mountinfo.Unmount(m.Ident(), true); err == nil {
			return nil
		}
	}
	if err := abortConn(m); err != nil {
		return err
	}
	_, err := mountinfo.Unmount(m.Ident(), true)
	return err
}

// abortConn aborts m's FUSE connection: every request pending or to come
// fails with ENOTCONN. The connection is named after the superblock's
// device number (the kernel's MKDEV, major << 20 | minor).
func abortConn(m *mountinfo.Mount) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(fusectlDir, &sfs); err != nil || sfs.Type != fusectlMagic {
		// Not mounted yet (the directory exists once the fuse module is in).
		if err := unix.Mount("none", fusectlDir, "fusectl", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount fusectl on %s: %w", fusectlDir, err)
		}
	}
	conn := strconv.FormatUint(uint64(unix.Major(m.Dev))<<20|uint64(unix.Minor(m.Dev)), 10)
	p := filepath.Join(fusectlDir, conn, "abort")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("abort FUSE connection %s: %w", conn, err)
	}
	return nil
}
