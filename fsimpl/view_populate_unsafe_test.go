package fsimpl

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident reports which pages of mem[off:off+n] are in memory (mincore;
// off is page-aligned).
func resident(tb testing.TB, mem []byte, off, n int) []byte {
	tb.Helper()
	vec := make([]byte, (n+pageSize-1)/pageSize)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[off])), uintptr(n), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		tb.Fatalf("mincore: %v", e)
	}
	return vec
}
