package fsimpl

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// rwMutex is the lock under fsMutex.
type rwMutex = sync.RWMutex

// The view's words are written with plain stores between the seqlock's
// two atomic increments: a reader that raced them sees the sequence move
// and throws its copy away. Offsets are the layout's (aligned).

func (v *view) put32(off int, x uint32) { *(*uint32)(unsafe.Pointer(&v.mem[off])) = x }
func (v *view) get32(off int) uint32    { return *(*uint32)(unsafe.Pointer(&v.mem[off])) }
func (v *view) put64(off int, x uint64) { *(*uint64)(unsafe.Pointer(&v.mem[off])) = x }
func (v *view) get64(off int) uint64    { return *(*uint64)(unsafe.Pointer(&v.mem[off])) }

func (v *view) seq() *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&v.mem[viewHdrSeq])) }

// begin makes the sequence odd: readers retry until end.
func (v *view) begin() { v.seq().Add(1) }

// end makes the sequence even again.
func (v *view) end() { v.seq().Add(1) }

// viewMem is a reader's mapping (view_read.go).
type viewMem []byte

func (m viewMem) u32(off int) uint32 { return atomic.LoadUint32((*uint32)(unsafe.Pointer(&m[off]))) }
func (m viewMem) u64(off int) uint64 { return atomic.LoadUint64((*uint64)(unsafe.Pointer(&m[off]))) }
