package fastlane

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The words of a segment are shared with another process: every access to
// one that the other side may touch at the same time is atomic.

func (s *segment) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&s.mem[off])) }

func (s *segment) load(off int) uint32     { return atomic.LoadUint32(s.word(off)) }
func (s *segment) store(off int, v uint32) { atomic.StoreUint32(s.word(off), v) }
func (s *segment) cas(off int, old, v uint32) bool {
	return atomic.CompareAndSwapUint32(s.word(off), old, v)
}

func (s *segment) putU64(off int, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.mem[off])), v)
}

func (s *segment) getU64(off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.mem[off])))
}

// bytesOf is the memory of v, to copy a struct stat into a reply.
func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// The segment is shared between processes: its futexes are not private.

// wake wakes every sleeper on the word at off.
func (s *segment) wake(off int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(s.word(off))), futexWake, 1<<30, 0, 0, 0)
}

// futexWake is FUTEX_WAKE (linux/futex.h), shared: not
// FUTEX_PRIVATE_FLAG.
const futexWake = 1

func (s *segment) casU64(off int, old, v uint64) bool {
	return atomic.CompareAndSwapUint64((*uint64)(unsafe.Pointer(&s.mem[off])), old, v)
}
