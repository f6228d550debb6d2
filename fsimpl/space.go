package fsimpl

import (
	"math"

	"golang.org/x/sys/unix"
)

// Space accounting. With BackingTmpfs the kernel enforces Options.SizeBytes
// on every write, whoever makes it, and statfs of the backing mount is
// exact. With BackingShm, /dev/shm is shared with the rest of the machine,
// so fsimpl keeps its own estimate: inode.alloc is the backing bytes
// allocated (st_blocks*512) when fsimpl last looked, FS.usedBytes their sum.
// Writes made through descriptors handed to other processes are counted
// the next time fsimpl looks (GetAttr, Write, Release), never refused.

// noteAlloc records that n's backing file has blocks 512-byte blocks.
func (fs *FS) noteAlloc(n *inode, blocks int64) {
	b := blocks * 512
	if old := n.alloc.Swap(b); old != b {
		fs.usedBytes.Add(b - old)
	}
}

// refreshAlloc re-reads n's allocation from the backing directory. Only
// BackingShm needs the estimate: on BackingTmpfs it would be a stat per
// write for nothing.
func (fs *FS) refreshAlloc(n *inode) {
	if fs.back.kind != BackingShm {
		return
	}
	var st unix.Stat_t
	if fs.back.stat(n.ino, &st) == 0 {
		fs.noteAlloc(n, st.Blocks)
	}
}

// refreshAllocFd re-reads n's allocation through an open descriptor.
func (fs *FS) refreshAllocFd(n *inode, fd int) {
	if fs.back.kind != BackingShm {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		fs.noteAlloc(n, st.Blocks)
	}
}

// checkSpace refuses (ENOSPC) a write or allocation of length bytes at off
// into n that would take BackingShm past the cap. Far from the cap it is
// one comparison; near it, the holes the range would fill are counted with
// SEEK_DATA/SEEK_HOLE on a private descriptor.
func (fs *FS) checkSpace(n *inode, off, length int64) unix.Errno {
	if fs.back.kind != BackingShm || length <= 0 || off < 0 || off > math.MaxInt64-length-2*pageSize {
		return 0 // the kernel answers the absurd ranges
	}
	limit := int64(fs.maxBytes)
	used := fs.usedBytes.Load()
	if used+roundUpPage(length)+pageSize <= limit {
		return 0
	}
	holes, e := fs.holeBytes(n, off, length)
	if e != 0 {
		return e
	}
	if used+holes > limit {
		return unix.ENOSPC
	}
	return 0
}

// holeBytes counts the bytes of whole pages in [off, off+length) that are
// not allocated in n's backing file.
func (fs *FS) holeBytes(n *inode, off, length int64) (int64, unix.Errno) {
	fd, e := fs.back.open(n.ino, unix.O_RDONLY)
	if e != 0 {
		return 0, e
	}
	defer unix.Close(fd)
	pos := off &^ (pageSize - 1)
	end := roundUpPage(off + length)
	var holes int64
	for pos < end {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if err == unix.ENXIO || (err == nil && data >= end) {
			holes += end - pos
			break
		}
		if err != nil {
			return 0, errnoOf(err)
		}
		holes += data - pos
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return 0, errnoOf(err)
		}
		pos = roundUpPage(hole)
	}
	return holes, 0
}

func roundUpPage(x int64) int64 { return (x + pageSize - 1) &^ (pageSize - 1) }

// StatFs is the answer to statfs. Inode figures are fsimpl's own; block
// figures come from the private tmpfs, or from the estimate for
// BackingShm (mirrors mm/shmem.c:shmem_statfs).
func (fs *FS) StatFs() StatFs {
	fs.mu.RLock()
	free := fs.freeISpaceLocked()
	fs.mu.RUnlock()
	s := StatFs{
		Files:   fs.maxInodes,
		Ffree:   free / bogoInodeSize,
		Bsize:   pageSize,
		NameLen: NameMax,
		Frsize:  pageSize,
	}
	var st unix.Statfs_t
	if fs.back.kind == BackingTmpfs && fs.back.statfs(&st) == 0 && st.Bsize == pageSize {
		s.Blocks, s.Bfree, s.Bavail = st.Blocks, st.Bfree, st.Bavail
		return s
	}
	s.Blocks = fs.maxBytes / pageSize
	if u := uint64(max(fs.usedBytes.Load(), 0)); u < fs.maxBytes {
		s.Bfree = (fs.maxBytes - u) / pageSize
	}
	s.Bavail = s.Bfree
	return s
}
