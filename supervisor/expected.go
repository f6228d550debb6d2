package supervisor

import (
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// expectedErrnos are the errnos that answer what a notified syscall asks
// (event.Classify has the classes and why), by the number that keys
// syscallTable; every key must be a row of it (TestExpectedErrnosRows).
// Registered with the row's op at init.
var expectedErrnos = map[int32][]unix.Errno{
	unix.SYS_OPEN:       event.ExpectOpen,
	unix.SYS_OPENAT:     event.ExpectOpen,
	unix.SYS_OPENAT2:    event.ExpectOpen,
	unix.SYS_STAT:       event.ExpectLookup,
	unix.SYS_LSTAT:      event.ExpectLookup,
	unix.SYS_NEWFSTATAT: event.ExpectLookup,
	unix.SYS_STATX:      event.ExpectLookup,
	unix.SYS_STATFS:     event.ExpectLookup,
	unix.SYS_CHDIR:      event.ExpectLookup,
	unix.SYS_ACCESS:     event.ExpectAccess,
	unix.SYS_FACCESSAT:  event.ExpectAccess,
	unix.SYS_FACCESSAT2: event.ExpectAccess,
	unix.SYS_READLINK:   event.ExpectReadlink,
	unix.SYS_READLINKAT: event.ExpectReadlink,

	unix.SYS_MKDIR:     event.ExpectCreate,
	unix.SYS_MKDIRAT:   event.ExpectCreate,
	unix.SYS_MKNOD:     event.ExpectCreate,
	unix.SYS_MKNODAT:   event.ExpectCreate,
	unix.SYS_LINK:      event.ExpectCreate,
	unix.SYS_LINKAT:    event.ExpectCreate,
	unix.SYS_SYMLINK:   event.ExpectCreate,
	unix.SYS_SYMLINKAT: event.ExpectCreate,

	unix.SYS_GETXATTR:     event.ExpectXattr,
	unix.SYS_LGETXATTR:    event.ExpectXattr,
	unix.SYS_FGETXATTR:    event.ExpectXattr,
	unix.SYS_LISTXATTR:    event.ExpectXattr,
	unix.SYS_LLISTXATTR:   event.ExpectXattr,
	unix.SYS_FLISTXATTR:   event.ExpectXattr,
	unix.SYS_REMOVEXATTR:  event.ExpectXattr,
	unix.SYS_LREMOVEXATTR: event.ExpectXattr,
	unix.SYS_FREMOVEXATTR: event.ExpectXattr,
	unix.SYS_SETXATTR:     event.ExpectSetXattr,
	unix.SYS_LSETXATTR:    event.ExpectSetXattr,
	unix.SYS_FSETXATTR:    event.ExpectSetXattr,
}
