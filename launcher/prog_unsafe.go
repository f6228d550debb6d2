package launcher

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// progBytes is prog as the child reads it: struct sock_filter after struct
// sock_filter, in this machine's byte order.
func progBytes(prog []unix.SockFilter) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(prog))), len(prog)*int(unsafe.Sizeof(prog[0])))
}
