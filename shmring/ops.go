package shmring

import (
	"time"

	"golang.org/x/sys/unix"
)

// Op is an operation, a FUSE request (upper case, as the FUSE opcodes) or a
// system call of a supervised process (lower case, as the syscalls).
type Op uint16

// FUSE requests.
const (
	OpLookup Op = iota
	OpForget
	OpGetAttr
	OpSetAttr
	OpMknod
	OpMkdir
	OpUnlink
	OpRmdir
	OpRename
	OpLink
	OpSymlink
	OpReadlink
	OpAccess
	OpGetXattr
	OpListXattr
	OpSetXattr
	OpRemoveXattr
	OpCreate
	OpOpen
	OpRead
	OpWrite
	OpLseek
	OpRelease
	OpFlush
	OpFsync
	OpFallocate
	OpOpenDir
	OpReadDir
	OpReadDirPlus
	OpReleaseDir
	OpFsyncDir
	OpStatFs
	OpGetLk
	OpSetLk
	OpSetLkw
	// System calls of supervised processes.
	OpSysOpen
	OpSysOpenat
	OpSysCreat
	OpSysOpenat2
	OpSysStat
	OpSysLstat
	OpSysNewfstatat
	OpSysFstat
	OpSysStatx
	OpSysAccess
	OpSysFaccessat
	OpSysFaccessat2
	OpSysFchmod
	OpSysFchown
	OpSysFtruncate
	OpSysReadlink
	OpSysReadlinkat
	OpSysOther // a notified syscall without a handler
	NumOps
)

var opNames = [NumOps]string{
	OpLookup: "LOOKUP", OpForget: "FORGET", OpGetAttr: "GETATTR", OpSetAttr: "SETATTR",
	OpMknod: "MKNOD", OpMkdir: "MKDIR", OpUnlink: "UNLINK", OpRmdir: "RMDIR",
	OpRename: "RENAME", OpLink: "LINK", OpSymlink: "SYMLINK", OpReadlink: "READLINK",
	OpAccess: "ACCESS", OpGetXattr: "GETXATTR", OpListXattr: "LISTXATTR",
	OpSetXattr: "SETXATTR", OpRemoveXattr: "REMOVEXATTR", OpCreate: "CREATE",
	OpOpen: "OPEN", OpRead: "READ", OpWrite: "WRITE", OpLseek: "LSEEK",
	OpRelease: "RELEASE", OpFlush: "FLUSH", OpFsync: "FSYNC", OpFallocate: "FALLOCATE",
	OpOpenDir: "OPENDIR", OpReadDir: "READDIR", OpReadDirPlus: "READDIRPLUS",
	OpReleaseDir: "RELEASEDIR", OpFsyncDir: "FSYNCDIR", OpStatFs: "STATFS",
	OpGetLk: "GETLK", OpSetLk: "SETLK", OpSetLkw: "SETLKW",
	OpSysOpen: "open", OpSysOpenat: "openat", OpSysCreat: "creat", OpSysOpenat2: "openat2",
	OpSysStat: "stat", OpSysLstat: "lstat", OpSysNewfstatat: "newfstatat", OpSysFstat: "fstat",
	OpSysStatx: "statx", OpSysAccess: "access", OpSysFaccessat: "faccessat",
	OpSysFaccessat2: "faccessat2", OpSysFchmod: "fchmod", OpSysFchown: "fchown",
	OpSysFtruncate: "ftruncate", OpSysReadlink: "readlink", OpSysReadlinkat: "readlinkat",
	OpSysOther: "syscall",
}

func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return "op?"
}

// SyscallOp maps an x86-64 system call number to its Op; syscalls without
// their own Op are OpSysOther.
func SyscallOp(nr int32) Op {
	switch nr {
	case unix.SYS_OPEN:
		return OpSysOpen
	case unix.SYS_OPENAT:
		return OpSysOpenat
	case unix.SYS_CREAT:
		return OpSysCreat
	case unix.SYS_OPENAT2:
		return OpSysOpenat2
	case unix.SYS_STAT:
		return OpSysStat
	case unix.SYS_LSTAT:
		return OpSysLstat
	case unix.SYS_NEWFSTATAT:
		return OpSysNewfstatat
	case unix.SYS_FSTAT:
		return OpSysFstat
	case unix.SYS_STATX:
		return OpSysStatx
	case unix.SYS_ACCESS:
		return OpSysAccess
	case unix.SYS_FACCESSAT:
		return OpSysFaccessat
	case unix.SYS_FACCESSAT2:
		return OpSysFaccessat2
	case unix.SYS_FCHMOD:
		return OpSysFchmod
	case unix.SYS_FCHOWN:
		return OpSysFchown
	case unix.SYS_FTRUNCATE:
		return OpSysFtruncate
	case unix.SYS_READLINK:
		return OpSysReadlink
	case unix.SYS_READLINKAT:
		return OpSysReadlinkat
	}
	return OpSysOther
}

// Door is the way an operation came in.
type Door uint8

const (
	DoorFUSE Door = iota // the FUSE mount
	DoorRun              // a process supervised by 'btfuse run'
	NumDoors
)

var doorNames = [NumDoors]string{DoorFUSE: "fuse", DoorRun: "run"}

func (d Door) String() string {
	if d < NumDoors {
		return doorNames[d]
	}
	return "door?"
}

// Outcome is how an operation was answered.
type Outcome uint8

const (
	Served      Outcome = iota // answered by btfuse, successfully
	Passthrough                // handed to the kernel (seccomp CONTINUE)
	Error                      // answered with an errno
	Injected                   // a fault injected on purpose
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{Served: "served", Passthrough: "passthrough", Error: "error", Injected: "injected"}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "outcome?"
}

// Event is one finished operation, as a door reports it.
type Event struct {
	Op      Op
	Door    Door
	Outcome Outcome
	// Tgid may be 0 when the door knows only the thread (FUSE requests
	// and seccomp notifications carry the caller's tid): the daemon fills
	// it in from a TID cache before the event reaches the ring, and a
	// reader that still finds 0 may resolve it from /proc.
	Tgid, Tid int32
	Errno     unix.Errno
	Latency   time.Duration
	Ino       uint64 // 0 when the op names no inode
	// Path is the path or name the operation was about ("" if none); the
	// ring keeps its last PathMax bytes.
	Path string
	// Dir, when set, is the directory Path is in: the record's path is
	// Dir + "/" + Path, joined as it is copied (so that a door that knows
	// a name and its directory's path need not build the string).
	Dir string
}

// Observer receives every finished operation of a door. Observe must not
// block or allocate, and is called from many goroutines at once.
type Observer interface {
	Observe(Event)
}
