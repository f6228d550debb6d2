package shmring

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// ErrFault reports that the segment's memory went away under the reader
// (someone truncated the file).
var ErrFault = errors.New("shmring: segment memory fault (file truncated?)")

// FormatError reports a file that is not a segment this reader can read.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string {
	return fmt.Sprintf("not a btfuse segment of version %d: %s", Version, e.Reason)
}

// Segment is a reader's read-only view of a segment.
type Segment struct {
	v      view
	slots  int
	mask   uint64
	f      *os.File // nil for Parse
	mapped bool
	info   Info
}

// Info describes a segment's daemon.
type Info struct {
	Path  string
	PID   int
	Mount string
	Start time.Time
	Slots int
}

// Open maps the segment at path read-only after checking that it is a
// regular file of the caller's, laid out as this package lays them out.
//
// A path under /proc (/proc/PID/fd/N, a sealed segment) is followed: the
// kernel resolves it to the daemon's own descriptor, for its user and root
// only. Any other path must not be a symbolic link.
func Open(path string) (*Segment, error) {
	flags := os.O_RDONLY | unix.O_NONBLOCK
	if !strings.HasPrefix(path, "/proc/") {
		flags |= unix.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, err
	}
	s, err := openFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.info.Path = path
	return s, nil
}

func openFile(f *os.File) (*Segment, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, &FormatError{"not a regular file"}
	case int(st.Uid) != os.Geteuid():
		return nil, fmt.Errorf("segment belongs to uid %d, not to you (uid %d): run as that user", st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return nil, &FormatError{fmt.Sprintf("writable by others (mode %#o)", st.Mode&0o777)}
	case st.Size < headerSize:
		return nil, &FormatError{fmt.Sprintf("%d bytes, shorter than a header", st.Size)}
	}
	hb := alignedCopy(make([]byte, headerSize))
	if n, err := unix.Pread(int(f.Fd()), hb, 0); err != nil || n != headerSize {
		return nil, &FormatError{"short header"}
	}
	slots, err := checkHeader(hb)
	if err != nil {
		return nil, err
	}
	size := segmentSize(slots)
	if st.Size < int64(size) {
		return nil, &FormatError{fmt.Sprintf("%d bytes, want %d", st.Size, size)}
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	// Check again on the mapping: the file may have changed since pread.
	s2, err := checkHeader(mem)
	if err == nil && s2 != slots {
		err = &FormatError{"layout changed while opening"}
	}
	if err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	s := newSegment(mem, slots)
	s.f, s.mapped = f, true
	return s, nil
}

// Parse reads a segment held in memory (tests, fuzzing). mem is copied if
// it is not 8-byte aligned.
func Parse(mem []byte) (*Segment, error) {
	if !aligned(mem) {
		mem = alignedCopy(mem)
	}
	slots, err := checkHeader(mem)
	if err != nil {
		return nil, err
	}
	if len(mem) < segmentSize(slots) {
		return nil, &FormatError{fmt.Sprintf("%d bytes, want %d", len(mem), segmentSize(slots))}
	}
	return newSegment(mem[:segmentSize(slots)], slots), nil
}

func newSegment(mem []byte, slots int) *Segment {
	s := &Segment{v: newView(mem, slots), slots: slots, mask: uint64(slots - 1)}
	h := s.v.hdr
	n := min(int(h.mountLen), maxMount)
	s.info = Info{
		PID:   int(h.pid),
		Mount: string(h.mount[:n]),
		Start: time.Unix(0, h.startNano),
		Slots: slots,
	}
	return s
}

// checkHeader validates the header at the start of b (8-byte aligned) and
// returns the ring's size. Nothing in it is trusted beyond what is checked
// here.
func checkHeader(b []byte) (int, error) {
	if len(b) < headerSize {
		return 0, &FormatError{"shorter than a header"}
	}
	h := hdrOf(b)
	if string(h.magic[:]) != Magic {
		return 0, &FormatError{"bad magic"}
	}
	if h.version != Version {
		return 0, &FormatError{fmt.Sprintf("it has layout version %d: the daemon runs another btfuse version; use that version's btfuse to read it", h.version)}
	}
	if h.headerSize != headerSize || h.numOps != event.MaxOps || h.numDoors != uint32(event.NumDoors) ||
		h.numOutcomes != uint32(event.NumOutcomes) || h.numBuckets != NumBuckets || h.cellSize != cellSize ||
		h.recordSize != recordSize || h.countersOff != countersOff || h.ringOff != uint64(ringOff) {
		return 0, &FormatError{"layout sizes differ from this btfuse's"}
	}
	slots := h.ringSlots
	if slots == 0 || slots > maxSlots || slots&(slots-1) != 0 {
		return 0, &FormatError{fmt.Sprintf("ring of %d slots", slots)}
	}
	if h.totalSize != uint64(segmentSize(int(slots))) {
		return 0, &FormatError{"total size does not match the ring"}
	}
	if h.mountLen > maxMount {
		return 0, &FormatError{"mount path too long"}
	}
	// Op numbers mean the same in the writer and here only if both
	// binaries define the same ops in the same order.
	for op := range event.Op(event.MaxOps) {
		var want [opNameLen]byte
		if op < event.NumOps() {
			copy(want[:], op.String())
		}
		if h.opNames[op] != want {
			return 0, &FormatError{"operation table differs from this btfuse's"}
		}
	}
	return int(slots), nil
}

// Info describes the segment's daemon.
func (s *Segment) Info() Info { return s.info }

// Close unmaps the segment.
func (s *Segment) Close() error {
	if s.mapped {
		unix.Munmap(s.v.mem)
		s.mapped = false
	}
	s.v = view{}
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// Alive reports whether the daemon that made the segment still holds it:
// its lock is held and its pid exists. Segments from Parse are alive.
func (s *Segment) Alive() bool {
	if s.f == nil {
		return true
	}
	return lockHeld(int(s.f.Fd())) && pidAlive(s.info.PID)
}

// guard turns a memory fault while reading the mapping into ErrFault.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = ErrFault
	}
}

// Snapshot reads the counters and gauges.
func (s *Segment) Snapshot() (snap Snapshot, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return snapshot(s.v), nil
}
