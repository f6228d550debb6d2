package fsimpl

import (
	"errors"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ViewReader reads a metadata view the way the fast lane's C reader
// (fastlane/preload/view.c) does, step for step: tests compare what it
// reads back with fsimpl's own answers.
type ViewReader struct {
	m viewMem
}

// ErrViewPass is a reader's "ask the daemon": the view cannot answer.
var ErrViewPass = errors.New("view: pass")

// viewRetries bounds a reader's retries when the writer moved underneath;
// view.h's FL_VIEW_RETRIES is the same.
const viewRetries = 8

// viewMaxLinks is the kernel's limit of symlinks in one walk (maxSymlinks);
// the reader passes beyond it rather than answer ELOOP itself.
const viewMaxLinks = maxSymlinks

// OpenViewReader maps the view behind fd (from FS.View) read-only.
func OpenViewReader(fd int) (*ViewReader, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Size < viewHeaderBytes {
		return nil, errors.New("view: too small")
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	r := &ViewReader{m: mem}
	if r.m.u32(viewHdrMagic) != ViewMagic || r.m.u32(viewHdrVersion) != ViewVersion || r.m.u64(viewHdrSize) != uint64(len(mem)) {
		unix.Munmap(mem)
		return nil, errors.New("view: bad header")
	}
	return r, nil
}

// Close unmaps the view.
func (r *ViewReader) Close() { unix.Munmap(r.m) }

// ViewAttr is what the view says about an inode: Attr without what a
// regular file's backing file holds.
type ViewAttr struct {
	Attr
	Flags uint32
	Grant uint32
	Priv  uint32
}

// slot bounds-checks slot s and returns its offset, or -1.
func (r *ViewReader) slot(s int32) int {
	n := int32(r.m.u32(viewHdrSlots))
	if s < 0 || s >= n {
		return -1
	}
	off := int(r.m.u64(viewHdrSlotsOff)) + int(s)*viewSlotSize
	if off < viewHeaderBytes || off+viewSlotSize > len(r.m) {
		return -1
	}
	return off
}

func (r *ViewReader) attrAt(off int) ViewAttr {
	m := r.m
	ts := func(o int) unix.Timespec {
		return unix.Timespec{Sec: int64(m.u64(o)), Nsec: int64(m.u64(o + 8))}
	}
	return ViewAttr{Attr: Attr{
		Ino: Ino(m.u64(off + viewInoIno)), Mode: m.u32(off + viewInoMode), Nlink: m.u32(off + viewInoNlink),
		UID: m.u32(off + viewInoUID), GID: m.u32(off + viewInoGID), Rdev: m.u64(off + viewInoRdev),
		Size: m.u64(off + viewInoSize), Blocks: m.u64(off + viewInoBlocks), Blksize: pageSize,
		Atime: ts(off + viewInoAtime), Mtime: ts(off + viewInoMtime), Ctime: ts(off + viewInoCtime),
		Volatile: m.u32(off+viewInoFlags)&viewFVolatile != 0,
	}, Flags: m.u32(off + viewInoFlags), Grant: m.u32(off + viewInoGrant), Priv: m.u32(off + viewInoPriv)}
}

// lookup finds name in the directory at slot dir: its slot, -1 for a miss,
// or -2 when the chain is longer than any the writer makes (torn).
func (r *ViewReader) lookup(dir int32, name string) int32 {
	nb := r.m.u32(viewHdrBuckets)
	nd := int32(r.m.u32(viewHdrDents))
	if nb == 0 || nb&(nb-1) != 0 {
		return -2
	}
	boff := int(r.m.u64(viewHdrBuckOff)) + int(viewHash(dir, name)&(nb-1))*4
	if boff < viewHeaderBytes || boff+4 > len(r.m) {
		return -2
	}
	d := int32(r.m.u32(boff))
	for steps := int32(0); d >= 0; steps++ {
		if d >= nd || steps > nd {
			return -2
		}
		off := int(r.m.u64(viewHdrDentsOff)) + int(d)*viewDentSize
		if off < viewHeaderBytes || off+viewDentSize > len(r.m) {
			return -2
		}
		l := int(r.m.u32(off + viewDentNameLen))
		if int32(r.m.u32(off+viewDentDir)) == dir && l == len(name) && l <= ViewNameMax &&
			string(r.m[off+viewDentName:off+viewDentName+l]) == name {
			return int32(r.m.u32(off + viewDentChild))
		}
		d = int32(r.m.u32(off + viewDentNext))
	}
	return -1
}

// slotOfIno finds the slot of inode ino through the inode-number hash,
// -1 when it is not there (or the chain is torn).
func (r *ViewReader) slotOfIno(ino Ino) int32 {
	nb := uint64(r.m.u32(viewHdrIBuckets))
	if nb == 0 || nb&(nb-1) != 0 {
		return -1
	}
	boff := int(r.m.u64(viewHdrIBuckOff)) + int(uint64(ino)&(nb-1))*4
	if boff < viewHeaderBytes || boff+4 > len(r.m) {
		return -1
	}
	s := int32(r.m.u32(boff))
	n := int32(r.m.u32(viewHdrSlots))
	for steps := int32(0); s >= 0 && steps <= n; steps++ {
		off := r.slot(s)
		if off < 0 {
			return -1
		}
		if Ino(r.m.u64(off+viewInoIno)) == ino {
			return s
		}
		s = int32(r.m.u32(off + viewInoNext))
	}
	return -1
}

// Walk resolves path (relative to the root of the filesystem) as the C
// reader does and returns what the view says of the inode it names: an
// errno, or ErrViewPass when the view cannot answer. follow is
// AT_SYMLINK_FOLLOW's sense for the last component.
func (r *ViewReader) Walk(path string, follow bool) (ViewAttr, unix.Errno, error) {
	for try := 0; try < viewRetries; try++ {
		s0 := r.m.u64(viewHdrSeq)
		if s0&1 != 0 {
			continue
		}
		a, _, e, err := r.walk(0, path, follow)
		if r.m.u64(viewHdrSeq) == s0 {
			return a, e, err
		}
	}
	return ViewAttr{}, 0, ErrViewPass
}

// Readlink is readlink(2) through the view.
func (r *ViewReader) Readlink(path string) (string, unix.Errno, error) {
	for try := 0; try < viewRetries; try++ {
		s0 := r.m.u64(viewHdrSeq)
		if s0&1 != 0 {
			continue
		}
		t, e, err := r.readlink(path)
		if r.m.u64(viewHdrSeq) == s0 {
			return t, e, err
		}
	}
	return "", 0, ErrViewPass
}

func (r *ViewReader) readlink(path string) (string, unix.Errno, error) {
	a, slot, e, err := r.walk(0, path, false)
	if err != nil || e != 0 {
		return "", e, err
	}
	if a.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL, nil
	}
	off := r.slot(slot)
	if off < 0 || a.Flags&viewFTarget == 0 || int64(r.m.u64(off+viewInoLinkDue)) <= time.Now().Unix()+1 {
		return "", 0, ErrViewPass
	}
	l := int(r.m.u32(off + viewInoTLen))
	if l > ViewTargetMax {
		return "", 0, ErrViewPass
	}
	return string(r.m[off+viewInoTarget : off+viewInoTarget+l]), 0, nil
}

func (r *ViewReader) walk(start Ino, path string, follow bool) (ViewAttr, int32, unix.Errno, error) {
	if r.m.u32(viewHdrFlags)&ViewUsable == 0 {
		return ViewAttr{}, -1, 0, ErrViewPass
	}
	root := int32(r.m.u32(viewHdrRoot))
	cur := root
	if start != 0 {
		if cur = r.slotOfIno(start); cur < 0 {
			return ViewAttr{}, -1, 0, ErrViewPass
		}
	}
	rest := path
	slashed := strings.HasSuffix(path, "/")
	links := 0
	for {
		for strings.HasPrefix(rest, "/") {
			rest = rest[1:]
		}
		if rest == "" {
			break
		}
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		last := strings.Trim(rest, "/") == ""
		off := r.slot(cur)
		if off < 0 {
			return ViewAttr{}, -1, 0, ErrViewPass
		}
		flags := r.m.u32(off + viewInoFlags)
		if flags&viewFSearchAll == 0 || r.m.u32(off+viewInoMode)&unix.S_IFMT != unix.S_IFDIR {
			return ViewAttr{}, -1, 0, ErrViewPass
		}
		if name == "." {
			continue
		}
		if name == ".." {
			if cur == root {
				return ViewAttr{}, -1, 0, ErrViewPass
			}
			cur = int32(r.m.u32(off + viewInoParent))
			continue
		}
		if len(name) > ViewNameMax {
			return ViewAttr{}, -1, 0, ErrViewPass
		}
		n := r.lookup(cur, name)
		switch {
		case n == -2:
			return ViewAttr{}, -1, 0, ErrViewPass
		case n < 0 && flags&viewFIncomplete != 0:
			return ViewAttr{}, -1, 0, ErrViewPass
		case n < 0:
			return ViewAttr{}, -1, unix.ENOENT, nil
		}
		noff := r.slot(n)
		if noff < 0 || r.m.u64(noff+viewInoIno) == 0 {
			return ViewAttr{}, -1, 0, ErrViewPass
		}
		mode := r.m.u32(noff + viewInoMode)
		if mode&unix.S_IFMT == unix.S_IFLNK && (!last || follow || slashed) {
			links++
			if links > viewMaxLinks || flags&viewFFollowAll == 0 || r.m.u32(noff+viewInoFlags)&viewFTarget == 0 ||
				int64(r.m.u64(noff+viewInoLinkDue)) <= time.Now().Unix()+1 {
				return ViewAttr{}, -1, 0, ErrViewPass
			}
			l := int(r.m.u32(noff + viewInoTLen))
			if l == 0 || l > ViewTargetMax {
				return ViewAttr{}, -1, 0, ErrViewPass
			}
			target := string(r.m[noff+viewInoTarget : noff+viewInoTarget+l])
			if target[0] == '/' {
				return ViewAttr{}, -1, 0, ErrViewPass
			}
			if last && strings.HasSuffix(target, "/") {
				slashed = true
			}
			rest = target + "/" + rest
			continue
		}
		if last {
			if slashed && mode&unix.S_IFMT != unix.S_IFDIR {
				return ViewAttr{}, -1, unix.ENOTDIR, nil
			}
			cur = n
			break
		}
		if mode&unix.S_IFMT != unix.S_IFDIR {
			return ViewAttr{}, -1, unix.ENOTDIR, nil
		}
		cur = n
	}
	off := r.slot(cur)
	if off < 0 || r.m.u64(off+viewInoIno) == 0 {
		return ViewAttr{}, -1, 0, ErrViewPass
	}
	return r.attrAt(off), cur, 0, nil
}

// Stat is stat(2) (lstat with follow false) through the view, with a
// regular file's size, blocks and times read from its backing file
// through backdir (FS.BackingDir), combined as attrLocked combines them.
// The backing file is read inside the seqlock's section: the inode's
// metadata did not change between the two reads.
func (r *ViewReader) Stat(path string, follow bool, backdir int) (Attr, unix.Errno, error) {
	return r.StatFrom(0, path, follow, backdir)
}

// StatFrom is Stat of path relative to directory dir (0: the root), as
// fstatat(2) with a descriptor of dir does.
func (r *ViewReader) StatFrom(dir Ino, path string, follow bool, backdir int) (Attr, unix.Errno, error) {
	for try := 0; try < viewRetries; try++ {
		s0 := r.m.u64(viewHdrSeq)
		if s0&1 != 0 {
			continue
		}
		a, e, err := r.stat(dir, path, follow, backdir)
		if r.m.u64(viewHdrSeq) == s0 {
			return a, e, err
		}
	}
	return Attr{}, 0, ErrViewPass
}

func (r *ViewReader) stat(dir Ino, path string, follow bool, backdir int) (Attr, unix.Errno, error) {
	a, _, e, err := r.walk(dir, path, follow)
	if err != nil || e != 0 {
		return Attr{}, e, err
	}
	if a.Mode&unix.S_IFMT != unix.S_IFREG {
		return a.Attr, 0, nil
	}
	if a.Flags&viewFVolatile != 0 {
		return Attr{}, 0, ErrViewPass
	}
	var st unix.Stat_t
	if err := unix.Fstatat(backdir, backingName(a.Ino), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Attr{}, 0, ErrViewPass
	}
	out := a.Attr
	out.Size, out.Blocks = uint64(st.Size), uint64(st.Blocks)
	out.Atime, out.Mtime = st.Atim, st.Mtim
	if tsAfter(st.Ctim, out.Ctime) {
		out.Ctime = st.Ctim
	}
	out.Mode &^= a.Priv & (unix.S_ISUID | unix.S_ISGID) &^ st.Mode
	return out, 0, nil
}
