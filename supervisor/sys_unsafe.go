package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// notif mirrors struct seccomp_notif.
type notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

// notifResp mirrors struct seccomp_notif_resp.
type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifAddfd mirrors struct seccomp_notif_addfd.
type notifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	return e
}

// notifRecv receives one notification (SECCOMP_IOCTL_NOTIF_RECV). The
// structure must be zeroed, or the kernel answers EINVAL.
func notifRecv(fd int, n *notif) unix.Errno {
	*n = notif{}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

// notifPollHeld waits until the listener has a notification to receive
// (or has hung up), keeping the thread's P: a raw poll(2), which the Go
// scheduler does not see (procs.go). A signal ends it with EINTR: poll
// returns ERESTARTNOHAND, which becomes EINTR when a handler ran, as the
// runtime's always does. (RECV itself cannot wait so: the kernel restarts
// it after the runtime's SA_RESTART handlers, so no signal would end a
// raw RECV, and a stop of the world would wait for the next notification.)
func notifPollHeld(fd int) unix.Errno {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	_, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, 0, 0, 0, 0)
	return e
}

// notifSend sends a response (SECCOMP_IOCTL_NOTIF_SEND).
func notifSend(fd int, r *notifResp) unix.Errno {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// notifIDValid reports whether notification id is still pending
// (SECCOMP_IOCTL_NOTIF_ID_VALID): 0 if so, ENOENT if the target is gone or
// its syscall was interrupted.
func notifIDValid(fd int, id uint64) unix.Errno {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id))
}

// notifAddFd installs srcfd into the target (SECCOMP_IOCTL_NOTIF_ADDFD) and
// returns the descriptor number it got there. With SECCOMP_ADDFD_FLAG_SEND
// the call also answers the notification with that number.
func notifAddFd(fd int, a *notifAddfd) (int, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_ADDFD), uintptr(unsafe.Pointer(a)))
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// setSyncWakeUp asks the kernel to wake the target on the CPU of the
// replying thread (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux >= 6.6).
func setSyncWakeUp(fd int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS), unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	return e
}

// kcmpFile compares descriptor fd1 of process pid1 with fd2 of pid2
// (kcmp(KCMP_FILE)): 0 when they are the same open file, EBADF when either
// is not open.
func kcmpFile(pid1, pid2, fd1, fd2 int) (int, unix.Errno) {
	const kcmpFileType = 0
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), kcmpFileType, uintptr(fd1), uintptr(fd2), 0)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// sigmaskAll blocks every signal on the calling thread and returns the old
// mask; restoreSigmask puts it back. The caller has locked its OS thread.
func sigmaskAll() (old uint64) {
	all := ^uint64(0)
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return old
}

func restoreSigmask(old uint64) {
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
}

// readMem reads len(buf) bytes at addr of process pid.
func readMem(pid int, addr uint64, buf []byte) (int, unix.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err != nil {
		return n, err.(unix.Errno)
	}
	return n, 0
}

// writeMem writes buf at addr of process pid.
func writeMem(pid int, addr uint64, buf []byte) unix.Errno {
	if len(buf) == 0 {
		return 0
	}
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMWritev(pid, local, remote, 0)
	if err != nil {
		return err.(unix.Errno)
	}
	if n != len(buf) {
		return unix.EFAULT
	}
	return 0
}

// asBytes views a plain struct as bytes, to copy it into the target.
func asBytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// progFromBytes turns an exported BPF program into instructions.
func progFromBytes(b []byte) []unix.SockFilter {
	n := len(b) / int(unsafe.Sizeof(unix.SockFilter{}))
	out := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(b)), b)
	return out
}
