package shmring

import "unsafe"

// view gives typed access to a mapped segment whose size was checked
// against its layout. mem must be 8-byte aligned.
type view struct {
	mem   []byte
	hdr   *header
	cells []cell
	ring  []slot
}

// newView maps the structures over mem. The caller has checked that mem
// holds segmentSize(slots) bytes and is 8-byte aligned.
func newView(mem []byte, slots int) view {
	base := unsafe.Pointer(unsafe.SliceData(mem))
	return view{
		mem:   mem,
		hdr:   (*header)(base),
		cells: unsafe.Slice((*cell)(unsafe.Add(base, countersOff)), numCells),
		ring:  unsafe.Slice((*slot)(unsafe.Add(base, ringOff)), slots),
	}
}

// hdrOf is the header at the start of mem (at least headerSize bytes,
// 8-byte aligned).
func hdrOf(mem []byte) *header { return (*header)(unsafe.Pointer(unsafe.SliceData(mem))) }

func aligned(mem []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%8 == 0
}

// alignedCopy copies b into 8-byte aligned memory.
func alignedCopy(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8)
	out := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:len(b)]
	copy(out, b)
	return out
}
