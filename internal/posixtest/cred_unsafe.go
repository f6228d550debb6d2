package posixtest

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setThreadCred changes the credentials of the calling thread only: the raw
// syscalls bypass the runtime's all-threads broadcast. The caller must have
// locked its OS thread and must let it die afterwards.
func setThreadCred(c Cred) unix.Errno {
	var p unsafe.Pointer
	if len(c.Groups) > 0 {
		p = unsafe.Pointer(&c.Groups[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(c.Groups)), uintptr(p), 0)
	runtime.KeepAlive(c.Groups)
	if e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(c.GID), uintptr(c.GID), uintptr(c.GID)); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(c.UID), uintptr(c.UID), uintptr(c.UID)); e != 0 {
		return e
	}
	return 0
}
