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
func Snapshot(root string) ([]string, error) {
	var lines []string
	first := map[uint64]string{} // inode -> first path seen
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := dirNames(root + "/" + rel)
		if err != nil {
			return fmt.Errorf("readdir %q: %w", rel, err)
		}
		for _, name := range names {
			p := name
			if rel != "" {
				p = rel + "/" + name
			}
			line, isDir, err := describe(root+"/"+p, first, p)
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

func describe(abs string, first map[uint64]string, rel string) (string, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(abs, &st); err != nil {
		return "", false, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q %s", rel, FormatStat(&st))
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !isDir {
		if f, ok := first[st.Ino]; ok {
			fmt.Fprintf(&b, " =%q", f)
		} else {
			first[st.Ino] = rel
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax+1)
		n, err := unix.Readlink(abs, buf)
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(&b, " -> %q", buf[:n])
	case unix.S_IFREG:
		h, err := ContentHash(abs)
		if err != nil {
			fmt.Fprintf(&b, " content: %v", err)
		} else {
			fmt.Fprintf(&b, " data=%s", h)
		}
	}
	x, err := xattrSummary(abs)
	if err != nil {
		fmt.Fprintf(&b, " xattrs: %s", ErrnoString(Errno(err)))
	} else if x != "" {
		fmt.Fprintf(&b, " xattrs={%s}", x)
	}
	return b.String(), isDir, nil
}

func dirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
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

func xattrSummary(abs string) (string, error) {
	buf := make([]byte, 1<<16)
	n, err := unix.Llistxattr(abs, buf)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, name := range splitXattrList(buf[:n]) {
		val := make([]byte, 1<<16)
		m, err := unix.Lgetxattr(abs, name, val)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s:%s", name, ErrnoString(Errno(err))))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%s", name, Summary(val[:m])))
	}
	return strings.Join(parts, " "), nil
}

// ContentHash hashes the contents of a regular file without reading its
// holes: the size, then every aligned 4 KiB block that is not all zeros,
// with its offset, found through SEEK_DATA and SEEK_HOLE. A hole and a
// block of written zeros hash alike, so allocation does not matter here.
func ContentHash(abs string) (string, error) {
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "size %d\n", st.Size)
	const block = 4096
	buf := make([]byte, block)
	zero := make([]byte, block)
	next := int64(0) // first block not yet hashed
	total := int64(0)
	for next < st.Size {
		data, err := unix.Seek(fd, next, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		} else if err != nil {
			return "", fmt.Errorf("SEEK_DATA %d: %w", next, err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return "", fmt.Errorf("SEEK_HOLE %d: %w", data, err)
		}
		if hole <= data {
			return "", fmt.Errorf("SEEK_HOLE %d = %d", data, hole)
		}
		start := max(data/block*block, next)
		for off := start; off < hole; off += block {
			n, err := unix.Pread(fd, buf, off)
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
