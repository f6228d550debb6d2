// Package mountinfo reads the mount table (proc_pid_mountinfo(5)) and names
// a mount by what it is rather than by the path it was mounted on.
//
// A path names whatever is there now: a directory above a mount point can
// be renamed, and the old path replaced by a plain directory or by a
// symbolic link to another filesystem. So a mount is identified by its ID
// (mount id and device of its filesystem), found in the table to learn
// where it is now, checked with statx(2) to be the root of what that path
// names, and unmounted with UMOUNT_NOFOLLOW.
package mountinfo

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one line of a mountinfo file.
type Mount struct {
	ID, Parent uint64
	Dev        uint64 // device of the filesystem (MAJ:MIN), as unix.Mkdev
	Root       string // the directory of the filesystem mounted, unescaped
	Point      string // mount point, unescaped
	Opts       string // per-mount options (ro, noexec, ...)
	FSType     string
	Source     string // unescaped
	SuperOpts  string // the filesystem's options
}

// ID is the identity of one mount: its mount id and the device of its
// filesystem. The kernel reuses a mount id once its mount is gone, and a
// device number once its filesystem is gone; the pair is not reused while
// either lives.
type ID struct {
	Mnt uint64
	Dev uint64
}

// Ident returns the identity of m.
func (m *Mount) Ident() ID { return ID{Mnt: m.ID, Dev: m.Dev} }

// HasOpt reports whether the per-mount options of m include opt (ro,
// noexec, nosuid, ...).
func (m *Mount) HasOpt(opt string) bool {
	for _, o := range strings.Split(m.Opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// IsFUSE reports whether m is a FUSE filesystem.
func (m *Mount) IsFUSE() bool {
	return m.FSType == "fuse" || strings.HasPrefix(m.FSType, "fuse.") || m.FSType == "fuseblk"
}

// ErrNotMounted reports a mount that is not in this process's mount table
// (unmounted, or only in other mount namespaces).
var ErrNotMounted = errors.New("not mounted")

// Parse parses the text of a mountinfo file:
// ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
// Lines it cannot read are skipped.
func Parse(text string) []Mount {
	var out []Mount
	for _, line := range strings.Split(text, "\n") {
		head, tail, ok := strings.Cut(line, " - ")
		f := strings.Fields(head)
		t := strings.Fields(tail)
		if !ok || len(f) < 6 || len(t) < 3 {
			continue
		}
		id, err1 := strconv.ParseUint(f[0], 10, 64)
		parent, err2 := strconv.ParseUint(f[1], 10, 64)
		maj, min, ok := strings.Cut(f[2], ":")
		ma, err3 := strconv.ParseUint(maj, 10, 32)
		mi, err4 := strconv.ParseUint(min, 10, 32)
		if !ok || errors.Join(err1, err2, err3, err4) != nil {
			continue
		}
		out = append(out, Mount{
			ID:        id,
			Parent:    parent,
			Dev:       unix.Mkdev(uint32(ma), uint32(mi)),
			Root:      Unescape(f[3]),
			Point:     Unescape(f[4]),
			Opts:      f[5],
			FSType:    t[0],
			Source:    Unescape(t[1]),
			SuperOpts: t[2],
		})
	}
	return out
}

// Unescape undoes the kernel's octal escapes (\040 and the like) of space,
// tab, newline and backslash in a mountinfo field.
func Unescape(s string) string {
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

// Read reads /proc/self/mountinfo.
func Read() ([]Mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return Parse(string(b)), nil
}

// Find returns the mount named id in ms, or nil.
func Find(ms []Mount, id ID) *Mount {
	for i := range ms {
		if ms[i].Ident() == id {
			return &ms[i]
		}
	}
	return nil
}

// At returns the topmost mount whose mount point is the path point, or
// nil. Later lines are mounted on top of earlier ones.
func At(ms []Mount, point string) *Mount {
	var found *Mount
	for i := range ms {
		if ms[i].Point == point {
			found = &ms[i]
		}
	}
	return found
}

// Where returns the mount point of id now, or ErrNotMounted.
func Where(id ID) (string, error) {
	ms, err := Read()
	if err != nil {
		return "", err
	}
	if m := Find(ms, id); m != nil {
		return m.Point, nil
	}
	return "", ErrNotMounted
}

// ErrNotRoot reports a path that is not the root of a mount.
var ErrNotRoot = errors.New("not the root of a mount")

// RootAt returns the identity of the mount whose root path names, without
// following a symbolic link in its last component, or ErrNotRoot.
// AT_STATX_DONT_SYNC keeps a FUSE mount's server out of it: mount id and
// root attribute come from the VFS.
func RootAt(path string) (ID, error) {
	var stx unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if err := unix.Statx(unix.AT_FDCWD, path, flags, unix.STATX_MNT_ID, &stx); err != nil {
		return ID{}, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 || stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return ID{}, fmt.Errorf("statx %s: the kernel does not report mount ids (needs Linux >= 5.8)", path)
	}
	if stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return ID{}, ErrNotRoot
	}
	return ID{Mnt: stx.Mnt_id, Dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor)}, nil
}
