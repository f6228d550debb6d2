package shmring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// DefaultDir is where segments live.
const DefaultDir = "/dev/shm"

// Prefix starts the name of every segment file.
const Prefix = "btfuse-"

// Writer is the daemon's side of a segment.
type Writer struct {
	v    view
	f    *os.File // holds the flock
	path string
	ino  uint64
	mask uint64
	// sealed: a memfd (CreateSealed), with no name to remove.
	sealed bool
}

var _ event.Observer = (*Writer)(nil)

// Create makes the segment dir/btfuse-ID for the daemon serving mount, with
// a ring of slots records (a power of two; 0 means DefaultSlots). A segment
// of that name left by a dead daemon is removed first; one held by a live
// daemon is an error.
func Create(dir, id, mount string, slots int) (*Writer, error) {
	if slots == 0 {
		slots = DefaultSlots
	}
	if slots < 1 || slots > maxSlots || slots&(slots-1) != 0 {
		return nil, fmt.Errorf("shmring: %d slots: want a power of two up to %d", slots, maxSlots)
	}
	if dir == "" {
		dir = DefaultDir
	}
	path := filepath.Join(dir, Prefix+id)
	if err := removeIfDead(path, 4); err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create shared memory segment in %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), path)
	w, err := initSegment(f, path, mount, slots)
	if err != nil {
		f.Close()
		return nil, err
	}
	// Publish: the name appears only now that the header is complete.
	if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW); err != nil {
		w.unmap()
		f.Close()
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("shared memory segment %s appeared meanwhile: another btfuse daemon for %s?", path, mount)
		}
		return nil, fmt.Errorf("publish shared memory segment %s: %w", path, err)
	}
	return w, nil
}

func initSegment(f *os.File, path, mount string, slots int) (*Writer, error) {
	fd := int(f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, fmt.Errorf("lock shared memory segment: %w", err)
	}
	size := segmentSize(slots)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("size shared memory segment: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map shared memory segment: %w", err)
	}
	w := &Writer{v: newView(mem, slots), f: f, path: path, ino: st.Ino, mask: uint64(slots - 1)}
	h := w.v.hdr
	copy(h.magic[:], Magic)
	h.version = Version
	h.headerSize = headerSize
	h.numOps = event.MaxOps
	h.numDoors = uint32(event.NumDoors)
	h.numOutcomes = uint32(event.NumOutcomes)
	h.numBuckets = NumBuckets
	h.cellSize = cellSize
	h.recordSize = recordSize
	h.countersOff = countersOff
	h.ringOff = uint64(ringOff)
	h.ringSlots = uint64(slots)
	h.totalSize = uint64(size)
	h.pid = uint32(os.Getpid())
	h.startNano = time.Now().UnixNano()
	if len(mount) > maxMount {
		mount = mount[len(mount)-maxMount:]
	}
	h.mountLen = uint32(copy(h.mount[:], mount))
	for op := range event.NumOps() {
		copy(h.opNames[op][:], op.String())
	}
	return w, nil
}

// Path is the segment's file.
func (w *Writer) Path() string { return w.path }

// Name is the segment's file name (what the registry records).
func (w *Writer) Name() string { return filepath.Base(w.path) }

// Observe counts ev and appends it to the ring. It never blocks and never
// allocates; an event with an op, door or outcome out of range is only
// counted as dropped.
func (w *Writer) Observe(ev event.Event) {
	h := w.v.hdr
	if ev.Op >= event.NumOps() || ev.Door >= event.NumDoors || ev.Outcome >= event.NumOutcomes {
		h.dropped.Add(1)
		return
	}
	lat := ev.Latency
	if lat < 0 {
		lat = 0
	}
	c := &w.v.cells[cellIndex(ev.Op, ev.Door, ev.Outcome)]
	c.count.Add(1)
	c.sumNano.Add(uint64(lat))
	c.buckets[bucketOf(lat)].Add(1)

	t := h.head.Add(1) - 1
	s := &w.v.ring[t&w.mask]
	old := s.seq.Load()
	mine := (t + 1) << 1
	if old&1 != 0 || old >= mine || !s.seq.CompareAndSwap(old, mine|1) {
		// A lapped writer is still on this slot, or a newer record is
		// already there: give this one up rather than wait.
		h.dropped.Add(1)
		return
	}
	if old != 0 {
		h.overwritten.Add(1)
	}
	b := &s.body
	b.timeNano = time.Now().UnixNano()
	b.latency = uint64(lat)
	b.ino = ev.Ino
	b.rule, b.fault = 0, 0
	if ev.Outcome == event.Injected {
		b.ino = uint64(ev.FaultValue)
		b.rule, b.fault = ev.Rule, uint8(ev.Fault)
	}
	b.tgid, b.tid = ev.Tgid, ev.Tid
	b.errno = uint32(ev.Errno)
	b.op, b.door, b.outcome = uint16(ev.Op), uint8(ev.Door), uint8(ev.Outcome)
	n, trunc := joinTail(&b.path, ev.Dir, ev.Path)
	b.pathLen, b.flags = uint16(n), 0
	if trunc {
		b.flags = flagTruncated
	}
	s.seq.Store(mine)
}

// Count adds n answers of op through door with outcome to the counters
// (event.Counter), as of no latency, with nothing in the ring.
func (w *Writer) Count(op event.Op, door event.Door, outcome event.Outcome, n uint64) {
	if op >= event.NumOps() || door >= event.NumDoors || outcome >= event.NumOutcomes {
		w.v.hdr.dropped.Add(n)
		return
	}
	c := &w.v.cells[cellIndex(op, door, outcome)]
	c.count.Add(n)
	c.buckets[bucketOf(0)].Add(n)
}

// SetGauges publishes the filesystem's usage.
func (w *Writer) SetGauges(inodes, inodesMax, bytes, bytesMax uint64) {
	h := w.v.hdr
	h.inodes.Store(inodes)
	h.inodesMax.Store(inodesMax)
	h.bytes.Store(bytes)
	h.bytesMax.Store(bytesMax)
	h.gaugeNano.Store(time.Now().UnixNano())
}

// SetSupervised publishes the number of supervised process trees.
func (w *Writer) SetSupervised(n int) { w.v.hdr.supervised.Store(uint64(n)) }

// Snapshot reads the writer's own counters (for the metrics exporter).
func (w *Writer) Snapshot() Snapshot { return snapshot(w.v) }

// Close removes the segment (if its name still points at it) and drops
// the lock with the descriptor. The mapping stays until the process exits,
// so that an Observe still in flight in some door is harmless.
func (w *Writer) Close() error {
	var st unix.Stat_t
	if !w.sealed && unix.Stat(w.path, &st) == nil && st.Ino == w.ino {
		os.Remove(w.path)
	}
	return w.f.Close()
}

func (w *Writer) unmap() {
	if w.v.mem != nil {
		unix.Munmap(w.v.mem)
		w.v = view{}
	}
}

// joinTail writes the last PathMax bytes of dir + "/" + name (or of name
// alone when dir is "", with no second slash when dir ends in one) to the
// front of dst, and returns their length and whether bytes were cut.
func joinTail(dst *[PathMax]byte, dir, name string) (int, bool) {
	sep := dir != "" && name != "" && dir[len(dir)-1] != '/'
	total := len(dir) + len(name)
	if sep {
		total++
	}
	n := min(total, PathMax)
	i := n // fill dst[:n] from the right
	i -= copy(dst[max(0, i-len(name)):i], name[max(0, len(name)-i):])
	if sep && i > 0 {
		i--
		dst[i] = '/'
	}
	if i > 0 {
		copy(dst[:i], dir[len(dir)-i:])
	}
	return n, total > PathMax
}
