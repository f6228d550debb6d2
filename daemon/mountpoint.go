package daemon

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// statTimeout bounds a stat of a mount point: a FUSE mount whose daemon is
// alive but stuck would block it forever.
const statTimeout = 5 * time.Second

// errNoAnswer is a stat that did not return within statTimeout.
var errNoAnswer = errors.New("stat did not return")

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Major, Minor uint32
	Point        string
	FSType       string
	Source       string
}

func (m *mountEntry) isFUSE() bool {
	return m.FSType == "fuse" || strings.HasPrefix(m.FSType, "fuse.") || m.FSType == "fuseblk"
}

// findMount returns the topmost mount at dir, or nil.
func findMount(dir string) (*mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	return findMountIn(bufio.NewScanner(f), dir)
}

func findMountIn(sc *bufio.Scanner, dir string) (*mountEntry, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var found *mountEntry
	for sc.Scan() {
		m, ok := parseMountinfoLine(sc.Text())
		if ok && m.Point == dir {
			found = m // later lines are mounted on top of earlier ones
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return found, nil
}

// parseMountinfoLine parses one line of proc_pid_mountinfo(5):
// ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
func parseMountinfoLine(line string) (*mountEntry, bool) {
	fields := strings.Fields(line)
	if len(fields) < 10 {
		return nil, false
	}
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(fields) {
		return nil, false
	}
	maj, min, ok := strings.Cut(fields[2], ":")
	if !ok {
		return nil, false
	}
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &mountEntry{
		Major:  uint32(ma),
		Minor:  uint32(mi),
		Point:  unescapeOctal(fields[4]),
		FSType: fields[sep+1],
		Source: unescapeOctal(fields[sep+2]),
	}, true
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
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
// an abort of the connection through fusectl first.
func clearStale(dir string, m *mountEntry, abort bool) error {
	if !m.isFUSE() {
		return fmt.Errorf("%s is a %s mount, not a FUSE one", dir, m.FSType)
	}
	if !abort {
		if err := lazyUnmount(dir); err == nil {
			return nil
		}
	}
	if err := abortConn(m); err != nil {
		return err
	}
	return lazyUnmount(dir)
}

// lazyUnmount detaches the mount at dir: umount2(MNT_DETACH) as root,
// fusermount3 -u -z for a user's own FUSE mount otherwise.
func lazyUnmount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		if path, lerr := exec.LookPath("fusermount3"); lerr == nil {
			out, ferr := exec.Command(path, "-u", "-z", dir).CombinedOutput()
			if ferr == nil {
				return nil
			}
			return fmt.Errorf("fusermount3 -u -z %s: %v: %s", dir, ferr, bytes.TrimSpace(out))
		}
	}
	return fmt.Errorf("umount -l %s: %w", dir, err)
}

// abortConn aborts m's FUSE connection: every request pending or to come
// fails with ENOTCONN. The connection is named after the superblock's
// device number (the kernel's MKDEV, major << 20 | minor).
func abortConn(m *mountEntry) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(fusectlDir, &sfs); err != nil || sfs.Type != fusectlMagic {
		// Not mounted yet (the directory exists once the fuse module is in).
		if err := unix.Mount("none", fusectlDir, "fusectl", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount fusectl on %s: %w", fusectlDir, err)
		}
	}
	conn := strconv.FormatUint(uint64(m.Major)<<20|uint64(m.Minor), 10)
	p := filepath.Join(fusectlDir, conn, "abort")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("abort FUSE connection %s: %w", conn, err)
	}
	return nil
}
