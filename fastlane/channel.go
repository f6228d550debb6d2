package fastlane

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The layout of a segment (see the package comment). preload/channel_int.h
// repeats these numbers; TestLayoutMatchesC compares them.
const (
	Magic   = 0x4c465442 // "BTFL"
	Version = 4

	NumSlots  = 64
	SlotSize  = 16384
	SlotsOff  = 4096 // the header page
	SegSize   = SlotsOff + NumSlots*SlotSize
	PathBytes = 4096 // PATH_MAX, NUL included
	OutBytes  = 4096

	// Header words.
	hdrMagic    = 0
	hdrVersion  = 4
	hdrSlots    = 8
	hdrSlotSize = 12
	hdrSlotsOff = 16
	hdrState    = 20 // stateServing, then stateClosed
	hdrBell     = 24 // bumped by every request
	hdrSleeping = 28 // 1 while the worker sleeps on the doorbell socket
	// hdrViewWalk is 1 while the process may answer from the metadata
	// view (view.go): the daemon sets it at the handshake and clears it
	// before a credential change of the process proceeds.
	hdrViewWalk = 32
	// hdrDoorbell is the session's doorbell id (doorbell.go), 0 when
	// the library must not ring.
	hdrDoorbell = 36
	// hdrFaults is 1 while a fault rule applies to every process
	// (faults.Set.ForAll; faults.go): the library then sends nothing to
	// the kernel from its trampoline and answers nothing from the view,
	// so that the seccomp lane sees every call a rule could match.
	hdrFaults = 40
	// hdrHits are the library's counts of calls the view answered, per
	// view op (viewOp*): the answers that succeeded, then the errors.
	hdrHits = 64

	// Slot fields.
	slotOwner   = 0  // TID of the thread that claimed it, 0 when free
	slotState   = 4  // slotIdle ... slotDone
	slotWaiting = 8  // 1 while the owner sleeps on slotState
	slotOp      = 12 // an op below
	slotTid     = 16 // the caller's gettid(), per request
	slotDirfd   = 20
	slotDirfd2  = 24
	slotFlags   = 28
	slotMode    = 32
	slotMask    = 36
	slotLen     = 40 // u64: readlink's buffer size
	slotResult  = 48 // i64: >= 0, -errno, Pass or Kernel
	slotOutLen  = 56 // bytes of out used
	slotNRel    = 60 // ids in rel: Files the library closed since the last request
	slotClaim   = 64 // bumped by the library at every claim of the slot by a thread
	slotOutIno  = 72 // u64, openat's reply: the backing file's inode number (0: unknown)
	slotPath1   = 128
	slotPath2   = slotPath1 + PathBytes
	slotOut     = slotPath2 + PathBytes
	slotRel     = slotOut + OutBytes // [MaxRel]u64
	slotEnd     = slotRel + MaxRel*8

	// MaxRel bounds the Files a slot's thread may close between two
	// requests before fl_close makes a request of its own.
	MaxRel = 64
)

// Segment states.
const (
	stateServing = 1
	stateClosed  = 2
)

// Slot states.
const (
	slotIdle    = 0
	slotRequest = 1
	slotBusy    = 2
	slotDone    = 3
)

// Ops of a request.
const (
	opNewfstatat = 1
	opStatx      = 2
	opFaccessat2 = 3
	opReadlinkat = 4
	opOpenat     = 5
	opMkdirat    = 6
	opUnlinkat   = 7
	opRenameat2  = 8
	opFstat      = 9  // slotLen: the file's id
	opRelease    = 10 // slotLen: the file's id
	opLinkat     = 11 // path1 -> path2, slotFlags: AT_SYMLINK_FOLLOW
)

// Pass is the result that sends the caller to the ordinary syscall
// (FL_PASS in channel.h).
const Pass = -100000

// Kernel is the result that sends the caller to the kernel through its
// trampoline (FL_KERNEL_PASS): fsimpl stepped aside, so the seccomp lane
// would CONTINUE the call to the FUSE mount anyway.
const Kernel = -100001

var _ = [1]struct{}{}[slotEnd/(SlotSize+1)] // slotEnd <= SlotSize

// segment is one process's shared memory, as the daemon maps it.
type segment struct {
	mem  []byte
	file *os.File // the memfd, sent to the process at the handshake
}

// newSegment creates a segment: a memfd whose size is sealed, so that the
// process cannot shrink it under the daemon (a SIGBUS in the daemon).
func newSegment() (*segment, error) {
	fd, err := unix.MemfdCreate("btfuse-fastlane", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("fast lane segment: %w", err)
	}
	f := os.NewFile(uintptr(fd), "btfuse-fastlane")
	if err := unix.Ftruncate(fd, SegSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("fast lane segment: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("fast lane segment: seal: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, SegSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fast lane segment: %w", err)
	}
	s := &segment{mem: mem, file: f}
	s.store(hdrMagic, Magic)
	s.store(hdrVersion, Version)
	s.store(hdrSlots, NumSlots)
	s.store(hdrSlotSize, SlotSize)
	s.store(hdrSlotsOff, SlotsOff)
	s.store(hdrState, stateServing)
	return s, nil
}

// close marks the segment closed, wakes every sleeper (they then pass) and
// unmaps it.
func (s *segment) close() {
	s.store(hdrState, stateClosed)
	for i := 0; i < NumSlots; i++ {
		s.wake(slotBase(i) + slotState)
	}
	if s.file != nil {
		s.file.Close()
	}
	unix.Munmap(s.mem)
	s.mem = nil
}

// slotBase is the offset of slot i.
func slotBase(i int) int { return SlotsOff + i*SlotSize }

// cstring returns the NUL-terminated string in the n bytes at off, false
// when there is no NUL (the library wrote more than PATH_MAX).
func (s *segment) cstring(off, n int) (string, bool) {
	b := s.mem[off : off+n]
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), true
		}
	}
	return "", false
}
