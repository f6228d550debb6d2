package supervisor

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring of the view alarm (viewalarm.go), made with raw syscalls:
// <linux/io_uring.h>'s structures and constants, the few it needs.

const (
	ioringSetupSingleIssuer = 1 << 12
	ioringSetupDeferTaskrun = 1 << 13
	ioringSetupTaskrunFlag  = 1 << 9
	ioringFeatSingleMmap    = 1 << 0
	ioringOffSQRing         = 0
	ioringOffCQRing         = 0x8000000
	ioringOffSQEs           = 0x10000000
	ioringSQTaskrun         = 1 << 2
	ioringOpPollAdd         = 6
	ioringOpPollRemove      = 7
	ioringEnterGetevents    = 1
	ioringEntries           = 8
	sqeSize                 = 64
	cqeSize                 = 16
)

// ioringParams is struct io_uring_params.
type ioringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	resv2                                                           uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	resv2                                                           uint64
}

// alarmRing is the ring: its descriptor, its mappings and the offsets in
// them.
type alarmRing struct {
	fd     int
	sq, cq []byte // the same mapping with IORING_FEAT_SINGLE_MMAP
	sqes   []byte
	p      ioringParams
	sqTail uint32 // the next submission's index (the ring's thread's)
}

func (r *alarmRing) setup() error {
	r.p = ioringParams{flags: ioringSetupSingleIssuer | ioringSetupDeferTaskrun | ioringSetupTaskrunFlag}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, ioringEntries, uintptr(unsafe.Pointer(&r.p)), 0)
	if e != 0 {
		return e
	}
	r.fd = int(fd)
	p := &r.p
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	var err error
	if p.features&ioringFeatSingleMmap != 0 {
		r.sq, err = unix.Mmap(r.fd, ioringOffSQRing, max(sqSize, cqSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		r.cq = r.sq
	} else {
		r.sq, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err == nil {
			r.cq, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		}
	}
	if err == nil {
		r.sqes, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	}
	if err != nil {
		unix.Close(r.fd)
		return err
	}
	r.sqTail = r.word(r.sq, p.sqOff.tail).Load()
	return nil
}

func (r *alarmRing) word(m []byte, off uint32) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&m[off]))
}

// pending reports whether the kernel queued a deferred completion (a
// poll woke) or posted one (a poll ready when armed) since the last
// reap. Any thread may ask.
func (r *alarmRing) pending() bool {
	p := &r.p
	return r.word(r.sq, p.sqOff.flags).Load()&ioringSQTaskrun != 0 ||
		r.word(r.cq, p.cqOff.tail).Load() != r.word(r.cq, p.cqOff.head).Load()
}

// reap takes the next completion off the ring.
func (r *alarmRing) reap() (userData uint64, ok bool) {
	p := &r.p
	head := r.word(r.cq, p.cqOff.head)
	h := head.Load()
	if h == r.word(r.cq, p.cqOff.tail).Load() {
		return 0, false
	}
	off := int(p.cqOff.cqes) + int(h&r.word(r.cq, p.cqOff.ringMask).Load())*cqeSize
	userData = *(*uint64)(unsafe.Pointer(&r.cq[off]))
	head.Store(h + 1)
	return userData, true
}

// push queues a submission; enter submits it.
func (r *alarmRing) push(op uint8, fd int32, addr uint64, events uint32, userData uint64) {
	p := &r.p
	i := r.sqTail & r.word(r.sq, p.sqOff.ringMask).Load()
	sqe := r.sqes[int(i)*sqeSize : int(i+1)*sqeSize]
	clear(sqe)
	sqe[0] = op
	*(*int32)(unsafe.Pointer(&sqe[4])) = fd
	*(*uint64)(unsafe.Pointer(&sqe[16])) = addr
	*(*uint32)(unsafe.Pointer(&sqe[28])) = events
	*(*uint64)(unsafe.Pointer(&sqe[32])) = userData
	r.word(r.sq, p.sqOff.array+4*i).Store(i)
	r.sqTail++
	r.word(r.sq, p.sqOff.tail).Store(r.sqTail)
}

func (r *alarmRing) pollAdd(fd int, events int16, userData uint64) {
	r.push(ioringOpPollAdd, int32(fd), 0, uint32(uint16(events)), userData)
}

func (r *alarmRing) pollRemove(target, userData uint64) {
	r.push(ioringOpPollRemove, -1, target, 0, userData)
}

// enter submits n queued submissions (and runs the deferred completions
// with ioringEnterGetevents).
func (r *alarmRing) enter(n int, flags uint32) unix.Errno {
	for {
		got, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(n), 0, uintptr(flags), 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			return e
		case int(got) < n:
			return unix.EAGAIN
		}
		return 0
	}
}

// close closes the ring's descriptor; the mappings stay (see alarm.stop).
func (r *alarmRing) close() { unix.Close(r.fd) }
