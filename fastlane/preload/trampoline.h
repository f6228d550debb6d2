// The trampoline page: where the library makes the syscalls it has
// classified as outside the mount. The seccomp filter of 'btfuse run'
// allows a path syscall without notification when the instruction pointer
// lies in this page (supervisor.TrampolinePage holds the same number, and
// fastlane's TestTrampolineAddrMatches keeps the two equal).
//
// The address is 2 TiB under the top of the x86-64 user address space:
// below everything the kernel places with ASLR (mmap_base is at most
// 2^28 pages under the stack's gap), above every PIE, brk heap and the Go
// runtime's arenas. A process that has something there anyway gets
// MAP_FIXED_NOREPLACE's EEXIST and runs without the page (plain syscalls,
// which the seccomp lane serves).
#pragma once

#define FL_TRAMPOLINE_ADDR 0x7e0000000000UL
#define FL_TRAMPOLINE_SIZE 4096UL
