package fsimpl

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The metadata view is a rule-free mirror of the inode table in shared
// memory, which the fast lane's library maps read-only so that a process
// answers stat-family calls under the mount without a round trip. fsimpl
// writes it while it holds FS.mu for writing, in the critical section of
// the change itself (fsMutex.Unlock flushes it), so no reader can see a
// door answer "new" and the view then answer "old".
//
// What the view holds is data, not decisions: the attributes of each
// inode, its name in its directory, and, per inode, what fsimpl's own
// permission code grants every credential (viewFSearchAll, Grant), so that
// a reader never judges mode bits itself. Whatever the view does not hold
// (a long name, a long symlink target, a full table) is marked, and the
// reader asks the daemon instead.
//
// Consistency is a seqlock: the writer makes the header's sequence odd,
// writes, and makes it even again; a reader copies what it needs and
// retries (a bounded number of times) when the sequence moved.
//
// Inode changes are collected while FS.mu is held (viewInoLocked,
// viewDentLocked at every site that changes an inode or a directory
// entry) and written out once, at the unlock.

// view is the writer's side. All fields are guarded by FS.mu (held for
// writing) except the mapping's contents, which readers read without it.
type view struct {
	file *os.File
	mem  []byte

	slots, buckets, dents int32

	slotOf    map[Ino]int32
	freeSlots []int32
	nextSlot  int32

	dentOf    map[dentKey]int32
	freeDents []int32
	nextDent  int32

	// incomplete are the directories (by inode) that lost an entry to a
	// limit: they stay marked until the view ends.
	incomplete map[Ino]bool

	dirtyIno  map[*inode]struct{}
	dirtyDent map[dirtyDent]struct{}

	// writing: the sequence is odd already, made so in the middle of a
	// critical section (writeLocked); flushLocked makes it even.
	writing bool

	// pop faults in the pages of the slots and dentries that come next
	// (view_populate.go).
	pop *viewPopulator
}

type dentKey struct {
	dir  int32
	name string
}

type dirtyDent struct {
	dir  *inode
	name string
}

// fsMutex is FS.mu: a read-write mutex whose Unlock first writes out what
// the holder changed to the view, when there is one.
type fsMutex struct {
	rw rwMutex
	fs *FS
}

func (m *fsMutex) Lock()    { m.rw.Lock() }
func (m *fsMutex) RLock()   { m.rw.RLock() }
func (m *fsMutex) RUnlock() { m.rw.RUnlock() }
func (m *fsMutex) Unlock() {
	if v := m.fs.view; v != nil {
		v.flushLocked(m.fs)
	}
	m.rw.Unlock()
}

// viewInoLocked notes that the attributes of n (may) have changed.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) viewInoLocked(ns ...*inode) {
	v := fs.view
	if v == nil {
		return
	}
	for _, n := range ns {
		if n != nil {
			v.dirtyIno[n] = struct{}{}
		}
	}
}

// viewDentLocked notes that name in dir (may) name something else now.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) viewDentLocked(dir *inode, name string) {
	if v := fs.view; v != nil {
		v.dirtyDent[dirtyDent{dir, name}] = struct{}{}
		v.dirtyIno[dir] = struct{}{}
	}
}

// View returns a read-only descriptor of the filesystem's metadata view,
// creating the view at the first call. The caller owns the descriptor.
func (fs *FS) View() (int, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.view == nil {
		v, err := newView(fs.maxInodes)
		if err != nil {
			return -1, err
		}
		for _, n := range fs.inodes {
			v.dirtyIno[n] = struct{}{}
			if n.isDir() {
				for _, e := range n.dir.ents {
					if e.child != nil {
						v.dirtyDent[dirtyDent{n, e.name}] = struct{}{}
					}
				}
			}
		}
		fs.view = v
		// fsMutex.Unlock writes it all out.
	}
	fd, err := unix.Open("/proc/self/fd/"+fmt.Sprint(fs.view.file.Fd()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("metadata view: %w", err)
	}
	return fd, nil
}

// SetViewMount records the mount's device and mount id in the view (the
// struct stat and statx readers fill in), and whether it is usable.
func (fs *FS) SetViewMount(dev, mntID uint64, usable bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	v := fs.view
	if v == nil {
		return
	}
	v.begin()
	v.put64(viewHdrDev, dev)
	v.put64(viewHdrMntID, mntID)
	v.setFlag(ViewUsable, usable)
	v.end()
}

// SetViewUsable sets or clears ViewUsable.
func (fs *FS) SetViewUsable(usable bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if v := fs.view; v != nil {
		v.begin()
		v.setFlag(ViewUsable, usable)
		v.end()
	}
}

func (v *view) setFlag(f uint32, on bool) {
	x := v.get32(viewHdrFlags)
	if on {
		x |= f
	} else {
		x &^= f
	}
	v.put32(viewHdrFlags, x)
}

// viewSize is the number of inode slots for a filesystem of maxInodes.
func viewSize(maxInodes uint64) int32 {
	n := uint64(1024)
	for n < maxInodes && n < ViewMaxSlots {
		n *= 2
	}
	return int32(n)
}

func newView(maxInodes uint64) (*view, error) {
	slots := viewSize(maxInodes)
	dents := slots * 2 // hard links and a dentry's name move
	buckets := dents
	slotsOff := int64(viewHeaderBytes)
	buckOff := slotsOff + int64(slots)*viewSlotSize
	dentsOff := buckOff + int64(buckets)*4
	ibuckOff := dentsOff + int64(dents)*viewDentSize
	size := ibuckOff + int64(slots)*4
	size = (size + pageSize - 1) &^ (pageSize - 1)
	fd, err := unix.MemfdCreate("btfuse-view", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("metadata view: %w", err)
	}
	f := os.NewFile(uintptr(fd), "btfuse-view")
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("metadata view: %w", err)
	}
	// Readers map it read-only, and nobody may resize it under them (a
	// SIGBUS in every reader): F_SEAL_FUTURE_WRITE would also stop a
	// reader that reopened it writable through /proc, but the daemon's
	// own mapping must stay writable, so write access is kept from the
	// readers by handing them a read-only descriptor instead.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("metadata view: seal: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("metadata view: %w", err)
	}
	v := &view{file: f, mem: mem, slots: slots, buckets: buckets, dents: dents,
		slotOf: make(map[Ino]int32), dentOf: make(map[dentKey]int32), incomplete: make(map[Ino]bool),
		dirtyIno: make(map[*inode]struct{}), dirtyDent: make(map[dirtyDent]struct{})}
	v.put32(viewHdrMagic, ViewMagic)
	v.put32(viewHdrVersion, ViewVersion)
	v.put32(viewHdrSlots, uint32(slots))
	v.put32(viewHdrBuckets, uint32(buckets))
	v.put32(viewHdrDents, uint32(dents))
	v.put32(viewHdrRoot, ^uint32(0))
	v.put64(viewHdrSlotsOff, uint64(slotsOff))
	v.put64(viewHdrBuckOff, uint64(buckOff))
	v.put64(viewHdrDentsOff, uint64(dentsOff))
	v.put64(viewHdrSize, uint64(size))
	v.put64(viewHdrIBuckOff, uint64(ibuckOff))
	v.put32(viewHdrIBuckets, uint32(slots))
	for b := int32(0); b < buckets; b++ {
		v.put32(int(buckOff)+int(b)*4, ^uint32(0))
	}
	for b := int32(0); b < slots; b++ {
		v.put32(int(ibuckOff)+int(b)*4, ^uint32(0))
	}
	v.pop = startPopulator(mem, int(slotsOff), int(slots)*viewSlotSize, int(dentsOff), int(dents)*viewDentSize)
	return v, nil
}

// closeView unmaps the view (at FS.Close; readers keep their mappings).
func (fs *FS) closeView() {
	fs.mu.Lock()
	v := fs.view
	fs.view = nil
	fs.mu.Unlock()
	if v != nil {
		v.pop.stop()
		unix.Munmap(v.mem)
		v.file.Close()
	}
}

func (v *view) slotOff(s int32) int { return int(v.get64(viewHdrSlotsOff)) + int(s)*viewSlotSize }
func (v *view) dentOff(d int32) int { return int(v.get64(viewHdrDentsOff)) + int(d)*viewDentSize }
func (v *view) buckOff(b uint32) int {
	return int(v.get64(viewHdrBuckOff)) + int(b)*4
}

// viewHash is the dentry hash of name in the directory at slot dir (FNV-1a
// over the slot's four bytes, little-endian, then the name); view.h has
// the same function.
func viewHash(dir int32, name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < 4; i++ {
		h ^= uint32(byte(uint32(dir) >> (8 * i)))
		h *= 16777619
	}
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return h
}

// slotFor returns the slot of ino, allocating one; -1 when the table is
// full.
func (v *view) slotFor(ino Ino) int32 {
	if s, ok := v.slotOf[ino]; ok {
		return s
	}
	var s int32
	switch {
	case len(v.freeSlots) > 0:
		s = v.freeSlots[len(v.freeSlots)-1]
		v.freeSlots = v.freeSlots[:len(v.freeSlots)-1]
	case v.nextSlot < v.slots:
		s = v.nextSlot
		v.nextSlot++
		v.pop.reach(popSlots, int(v.nextSlot)*viewSlotSize)
	default:
		return -1
	}
	v.slotOf[ino] = s
	b := v.ibuckOff(ino)
	v.put32(v.slotOff(s)+viewInoNext, v.get32(b))
	v.put32(b, uint32(s))
	return s
}

// ibuckOff is the offset of ino's bucket in the inode-number hash.
func (v *view) ibuckOff(ino Ino) int {
	return int(v.get64(viewHdrIBuckOff)) + int(uint64(ino)&uint64(v.slots-1))*4
}

// unchain takes entry e out of the hash chain whose head is the word at
// offset head: entries are linked through the word at off(entry)+link,
// and a negative index ends the chain.
func (v *view) unchain(head int, e int32, off func(int32) int, link int) {
	next := v.get32(off(e) + link)
	for p := head; ; {
		cur := int32(v.get32(p))
		if cur < 0 {
			return
		}
		if cur == e {
			v.put32(p, next)
			return
		}
		p = off(cur) + link
	}
}

// freeSlot takes slot s of ino out of its hash chain and frees it.
func (v *view) freeSlot(ino Ino, s int32) {
	v.unchain(v.ibuckOff(ino), s, v.slotOff, viewInoNext)
	v.put64(v.slotOff(s)+viewInoIno, 0)
	delete(v.slotOf, ino)
	v.freeSlots = append(v.freeSlots, s)
}

// flushLocked writes out what changed since the last flush.
//
// Preconditions: fs.mu is held for writing.
func (v *view) flushLocked(fs *FS) {
	if len(v.dirtyIno) == 0 && len(v.dirtyDent) == 0 && !v.writing {
		return
	}
	v.writeLocked()
	for d := range v.dirtyDent {
		v.writeDent(fs, d.dir, d.name)
		delete(v.dirtyDent, d)
	}
	// Writing a slot may allocate another (a directory's parent), which
	// is then written too.
	for len(v.dirtyIno) > 0 {
		for n := range v.dirtyIno {
			delete(v.dirtyIno, n)
			v.writeIno(fs, n)
		}
	}
	if s, ok := v.slotOf[RootIno]; ok {
		v.put32(viewHdrRoot, uint32(s))
	}
	v.end()
	v.writing = false
}

// writeLocked makes the sequence odd, unless it is already, until the
// critical section's flushLocked.
//
// Preconditions: fs.mu is held for writing.
func (v *view) writeLocked() {
	if !v.writing {
		v.begin()
		v.writing = true
	}
}

// writeDent makes the dentry (dir, name) say what dir's entry says now.
func (v *view) writeDent(fs *FS, dir *inode, name string) {
	live := fs.inodes[dir.ino] == dir && dir.isDir()
	ds, ok := v.slotOf[dir.ino]
	if !ok && !live {
		return
	}
	var child *inode
	if live {
		child = dir.dir.lookup(name)
	}
	if !ok {
		if ds = v.slotFor(dir.ino); ds < 0 {
			return // not in the view: its lookups fall back
		}
	}
	key := dentKey{ds, name}
	d, have := v.dentOf[key]
	if child == nil {
		if have {
			v.unlinkDent(d, key)
		}
		return
	}
	cs := v.slotFor(child.ino)
	if cs >= 0 {
		v.dirtyIno[child] = struct{}{}
	}
	if len(name) > ViewNameMax || cs < 0 {
		if have {
			v.unlinkDent(d, key)
		}
		v.incomplete[dir.ino] = true
		return
	}
	if have {
		v.put32(v.dentOff(d)+viewDentChild, uint32(cs))
		return
	}
	switch {
	case len(v.freeDents) > 0:
		d = v.freeDents[len(v.freeDents)-1]
		v.freeDents = v.freeDents[:len(v.freeDents)-1]
	case v.nextDent < v.dents:
		d = v.nextDent
		v.nextDent++
		v.pop.reach(popDents, int(v.nextDent)*viewDentSize)
	default:
		v.incomplete[dir.ino] = true
		return
	}
	off := v.dentOff(d)
	b := v.buckOff(viewHash(ds, name) & uint32(v.buckets-1))
	v.put32(off+viewDentChild, uint32(cs))
	v.put32(off+viewDentNameLen, uint32(len(name)))
	copy(v.mem[off+viewDentName:off+viewDentSize], name)
	v.put32(off+viewDentNext, v.get32(b))
	v.put32(off+viewDentDir, uint32(ds))
	v.put32(b, uint32(d))
	v.dentOf[key] = d
}

// unlinkDent takes dentry d out of its chain and frees it.
func (v *view) unlinkDent(d int32, key dentKey) {
	v.unchain(v.buckOff(viewHash(key.dir, key.name)&uint32(v.buckets-1)), d, v.dentOff, viewDentNext)
	v.put32(v.dentOff(d)+viewDentDir, ^uint32(0))
	delete(v.dentOf, key)
	v.freeDents = append(v.freeDents, d)
}

// writeIno writes n's slot, or frees it when n is gone.
func (v *view) writeIno(fs *FS, n *inode) {
	if fs.inodes[n.ino] != n {
		if s, ok := v.slotOf[n.ino]; ok {
			v.freeSlot(n.ino, s)
		}
		return
	}
	s := v.slotFor(n.ino)
	if s < 0 {
		return
	}
	a := fs.metaAttrLocked(n)
	off := v.slotOff(s)
	v.put64(off+viewInoIno, uint64(n.ino))
	v.put32(off+viewInoMode, a.Mode)
	v.put32(off+viewInoNlink, a.Nlink)
	v.put32(off+viewInoUID, a.UID)
	v.put32(off+viewInoGID, a.GID)
	v.put64(off+viewInoRdev, a.Rdev)
	v.put64(off+viewInoSize, a.Size)
	v.put64(off+viewInoBlocks, a.Blocks)
	v.putTime(off+viewInoAtime, a.Atime)
	v.putTime(off+viewInoMtime, a.Mtime)
	v.putTime(off+viewInoCtime, a.Ctime)
	parent := int32(-1)
	var flags uint32
	if a.Volatile {
		flags |= viewFVolatile
	}
	if n.isDir() {
		if p := n.dir.parent; p != nil && fs.inodes[p.ino] == p {
			if _, ok := v.slotOf[p.ino]; !ok {
				v.dirtyIno[p] = struct{}{}
			}
			parent = v.slotFor(p.ino)
		}
		if v.incomplete[n.ino] {
			flags |= viewFIncomplete
		}
		if grantedToAllLocked(n)&mayExec != 0 {
			flags |= viewFSearchAll
		}
		if followedByAllLocked(n) {
			flags |= viewFFollowAll
		}
	}
	v.put32(off+viewInoParent, uint32(parent))
	v.put32(off+viewInoGrant, grantedToAllLocked(n))
	v.put32(off+viewInoPriv, n.backPriv)
	var due int64
	if n.isLink() {
		due = atimeSettledUntil(n)
		if len(n.target) <= ViewTargetMax {
			flags |= viewFTarget
			copy(v.mem[off+viewInoTarget:off+viewSlotSize], n.target)
		}
		v.put32(off+viewInoTLen, uint32(len(n.target)))
	}
	v.put64(off+viewInoLinkDue, uint64(due))
	v.put32(off+viewInoFlags, flags)
}

func (v *view) putTime(off int, t unix.Timespec) {
	v.put64(off, uint64(t.Sec))
	v.put64(off+8, uint64(t.Nsec))
}
