// Package libcsys is posixtest's libc backend: a posixtest.Sys whose every
// call is the libc function a C program calls (open, stat, renameat2,
// getxattr, getdents64...), through the dynamic linker, so that a preloaded
// library interposes it. btfuse's fast lane is such a library, and Go's
// bare syscalls never reach it: a program built with this backend (cgo,
// linked against libc) runs the conformance cases and the random sequences
// the way a C program would make them. Errors are libc's errno, as a
// unix.Errno, exactly where the Unix backend returns the kernel's.
//
// The C wrappers of libcsys.go only fix the arguments of variadic functions
// (open) and turn Go's empty buffers into NULL; they never retry or
// reinterpret. The structures (stat, statx, statfs) are handed over in
// place: their layouts are the kernel's on x86-64, which both libc and
// golang.org/x/sys/unix follow (checked at compile time). Without cgo the
// package is empty: the backend needs libc.
package libcsys
