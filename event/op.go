package event

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Op is an operation: a FUSE request (upper case, as the FUSE opcodes) or
// a system call of a supervised process (lower case, as the syscalls).
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
	// NumFUSEOps is the number of FUSE requests, numbered from 0.
	NumFUSEOps
)

// OpSyscall is a system call that has no op of its own: none should be
// reported, since the package that notifies a system call registers it.
const OpSyscall = NumFUSEOps

// MaxOps bounds the number of ops, registered ones included: a
// shared-memory segment has a counter cell for every op, door and outcome
// at a fixed place, and a name slot for every op in its header.
const MaxOps = 160

// MaxNameLen is the longest op name: the longest name of a syscall the
// supervisor notifies (landlock_restrict_self) fits.
const MaxNameLen = 24

// names holds every op's name. It is written only while packages are
// initialised (OpSyscall and below here, the rest by Register) and only
// read afterwards.
var names = [MaxOps]string{
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
	OpSyscall: "syscall",
}

// numOps is the number of ops defined so far; see names.
var numOps = OpSyscall + 1

// Register defines an op named name and returns it; the errnos listed
// are its expected outcomes (see Classify). Call it only from package
// initialisation (an init function or a package-level variable), so that
// every process of the binary numbers ops alike; it panics on an empty,
// too long or taken name and when MaxOps ops exist.
func Register(name string, expect ...unix.Errno) Op {
	if name == "" || len(name) > MaxNameLen {
		panic(fmt.Sprintf("event: op name %q: want 1 to %d bytes", name, MaxNameLen))
	}
	if _, ok := Lookup(name); ok {
		panic(fmt.Sprintf("event: op %q registered twice", name))
	}
	if numOps >= MaxOps {
		panic(fmt.Sprintf("event: op %q: all %d ops taken", name, MaxOps))
	}
	o := numOps
	names[o] = name
	expected[o] = setOf(expect...)
	numOps++
	return o
}

// NumOps is the number of ops: every op is below it.
func NumOps() Op { return numOps }

// Lookup returns the op named name.
func Lookup(name string) (Op, bool) {
	for o := Op(0); o < numOps; o++ {
		if names[o] == name {
			return o, true
		}
	}
	return 0, false
}

func (o Op) String() string {
	if o < numOps {
		return names[o]
	}
	return "op?"
}
