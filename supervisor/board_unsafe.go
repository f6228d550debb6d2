package supervisor

import (
	"sync/atomic"
	"unsafe"
)

// slot is the i-th id of the board's page (8-byte aligned: the mapping
// starts on a page).
func (b *Board) slot(i int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&b.mem[8*i]))
}
