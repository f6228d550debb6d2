package posixtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// maxDataBytes bounds what ContentHash reads: the trees of these tests are
// sparse, and a filesystem that reports a terabyte of data is wrong anyway.
const maxDataBytes = 256 << 20

// Snapshot describes the tree under root, one line per name in sorted path
// order: FormatStat, the link target or a content hash, the xattrs, and
// which earlier path a hard link shares its inode with. Two filesystems
// that hold the same tree give the same lines. Symlinks are not followed.
func Snapshot(root string) ([]string, error) { return snapshot(DirTree(root), false, false) }

// SnapshotTree is Snapshot of any Tree, with a first line for the root
// itself, ".", and with the size of every directory when dirSizes is set
// (tmpfs and fsimpl agree on those; other filesystems need not).
func SnapshotTree(t Tree, dirSizes bool) ([]string, error) { return snapshot(t, true, dirSizes) }

// Tree is a directory tree as a Snapshot reads it, by paths relative to
// its root ("" is the root). Nothing follows a symlink.
type Tree interface {
	Lstat(p string) (unix.Stat_t, error)
	// Names lists a directory without "." and "..", in any order.
	Names(p string) ([]string, error)
	Readlink(p string) (string, error)
	// ListXattr lists xattr names, in any order.
	ListXattr(p string) ([]string, error)
	GetXattr(p, name string) ([]byte, error)
	// OpenData opens a regular file for reading its data.
	OpenData(p string) (DataFile, error)
}

// DataFile is an open regular file as ContentHash reads it.
type DataFile interface {
	// Seek is lseek with SEEK_DATA or SEEK_HOLE.
	Seek(off int64, whence int) (int64, error)
	ReadAt(b []byte, off int64) (int, error)
	Close() error
}

func snapshot(t Tree, withRoot, dirSizes bool) ([]string, error) {
	var lines []string
	first := map[uint64]string{} // inode -> first path seen
	d := describer{t: t, first: first, dirSizes: dirSizes}
	if withRoot {
		line, _, err := d.describe("", ".")
		if err != nil {
			return nil, fmt.Errorf("lstat root: %w", err)
		}
		lines = append(lines, line)
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := t.Names(rel)
		if err != nil {
			return fmt.Errorf("readdir %q: %w", rel, err)
		}
		sort.Strings(names)
		for _, name := range names {
			p := name
			if rel != "" {
				p = rel + "/" + name
			}
			line, isDir, err := d.describe(p, p)
			if err != nil {
				line = fmt.Sprintf("%q: %v", p, err)
			}
			lines = append(lines, line)
			if isDir {
				if err := walk(p); err != nil {
					lines = append(lines, fmt.Sprintf("%q: %v", p, err))
				}
			}
		}
		return nil
	}
	err := walk("")
	return lines, err
}

type describer struct {
	t        Tree
	first    map[uint64]string
	dirSizes bool
}

// describe is the line of path p, shown as name.
func (d describer) describe(p, name string) (string, bool, error) {
	st, err := d.t.Lstat(p)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q %s", name, FormatStat(&st))
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && d.dirSizes {
		fmt.Fprintf(&b, " size=%d", st.Size)
	}
	if !isDir {
		if f, ok := d.first[st.Ino]; ok {
			fmt.Fprintf(&b, " =%q", f)
		} else {
			d.first[st.Ino] = name
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := d.t.Readlink(p)
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(&b, " -> %q", target)
	case unix.S_IFREG:
		h, err := d.contentHash(p, st.Size)
		if err != nil {
			fmt.Fprintf(&b, " content: %v", err)
		} else {
			fmt.Fprintf(&b, " data=%s", h)
		}
	}
	x, err := d.xattrSummary(p)
	if err != nil {
		fmt.Fprintf(&b, " xattrs: %s", ErrnoString(Errno(err)))
	} else if x != "" {
		fmt.Fprintf(&b, " xattrs={%s}", x)
	}
	return b.String(), isDir, nil
}

func (d describer) xattrSummary(p string) (string, error) {
	names, err := d.t.ListXattr(p)
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		val, err := d.t.GetXattr(p, name)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s:%s", name, ErrnoString(Errno(err))))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%s", name, Summary(val)))
	}
	return strings.Join(parts, " "), nil
}

func (d describer) contentHash(p string, size int64) (string, error) {
	f, err := d.t.OpenData(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return hashData(f, size)
}

// DirTree is the Tree of a kernel directory.
func DirTree(root string) Tree { return dirTree(root) }

type dirTree string

func (t dirTree) path(p string) string {
	if p == "" {
		return string(t)
	}
	return string(t) + "/" + p
}

func (t dirTree) Lstat(p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := sys.Lstat(t.path(p), &st)
	return st, err
}

func (t dirTree) Names(p string) ([]string, error) { return dirNames(t.path(p)) }

func (t dirTree) Readlink(p string) (string, error) {
	buf := make([]byte, unix.PathMax+1)
	n, err := sys.Readlink(t.path(p), buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func (t dirTree) ListXattr(p string) ([]string, error) {
	buf := make([]byte, 1<<16)
	n, err := sys.Llistxattr(t.path(p), buf)
	if err != nil {
		return nil, err
	}
	return splitXattrList(buf[:n]), nil
}

func (t dirTree) GetXattr(p, name string) ([]byte, error) {
	val := make([]byte, 1<<16)
	n, err := sys.Lgetxattr(t.path(p), name, val)
	if err != nil {
		return nil, err
	}
	return val[:n], nil
}

func (t dirTree) OpenData(p string) (DataFile, error) {
	fd, err := sys.Open(t.path(p), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return fdFile(fd), nil
}

type fdFile int

func (f fdFile) Seek(off int64, whence int) (int64, error) { return sys.Seek(int(f), off, whence) }
func (f fdFile) ReadAt(b []byte, off int64) (int, error)   { return sys.Pread(int(f), b, off) }
func (f fdFile) Close() error                              { return sys.Close(int(f)) }

func dirNames(dir string) ([]string, error) {
	fd, err := sys.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer sys.Close(fd)
	ents, e := ReadDirents(fd, 1<<16)
	if e != 0 {
		return nil, e
	}
	var names []string
	for _, d := range ents {
		if d.Name != "." && d.Name != ".." {
			names = append(names, d.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// ContentHash hashes the contents of a regular file without reading its
// holes: the size, then every aligned 4 KiB block that is not all zeros,
// with its offset, found through SEEK_DATA and SEEK_HOLE. A hole and a
// block of written zeros hash alike, so allocation does not matter here.
func ContentHash(abs string) (string, error) {
	fd, err := sys.Open(abs, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer sys.Close(fd)
	var st unix.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return "", err
	}
	return hashData(fdFile(fd), st.Size)
}

func hashData(f DataFile, size int64) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "size %d\n", size)
	const block = 4096
	buf := make([]byte, block)
	zero := make([]byte, block)
	next := int64(0) // first block not yet hashed
	total := int64(0)
	for next < size {
		data, err := f.Seek(next, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		} else if err != nil {
			return "", fmt.Errorf("SEEK_DATA %d: %w", next, err)
		}
		hole, err := f.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return "", fmt.Errorf("SEEK_HOLE %d: %w", data, err)
		}
		if hole <= data {
			return "", fmt.Errorf("SEEK_HOLE %d = %d", data, hole)
		}
		start := max(data/block*block, next)
		for off := start; off < hole; off += block {
			n, err := f.ReadAt(buf, off)
			if err != nil {
				return "", fmt.Errorf("pread %d: %w", off, err)
			}
			if total += int64(n); total > maxDataBytes {
				return "", fmt.Errorf("more than %d bytes of data", maxDataBytes)
			}
			if !bytes.Equal(buf[:n], zero[:n]) {
				fmt.Fprintf(h, "%d %d\n", off, n)
				h.Write(buf[:n])
			}
			if n < block {
				break
			}
		}
		next = (hole + block - 1) / block * block
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}
