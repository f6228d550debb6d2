package supervisor

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
)

// handler answers one notified syscall, decoding its arguments from c.
type handler func(c *call) result

// ruleKind is how the filter decides whether a syscall is notified.
type ruleKind uint8

const (
	// notifyPath: always notified, whatever the arguments; the syscall
	// names a path.
	notifyPath ruleKind = iota + 1
	// notifyEmptyPath: (dirfd, path, ..., flags) calls that glibc also
	// uses as fstat, with an empty path and AT_EMPTY_PATH. Notified when
	// AT_EMPTY_PATH is clear in the flags argument, or when the dirfd is
	// a served descriptor (reserved range or standard, see maxStdFd).
	notifyEmptyPath
	// notifyFD: notified only when the first argument, a descriptor, lies
	// in the reserved range, where served descriptors live, or is a
	// standard one. read, write, lseek, mmap, fsync, fallocate and the
	// rest are not notified by it: a served descriptor is a real kernel
	// file (see notifyData for fault rules).
	// Directories are never installed in the range (see open), so
	// getdents64 and fchdir need no row either.
	notifyFD
	// notifyAnyFD: a descriptor call that changes or reads what only
	// fsimpl keeps (mode, owner, extended attributes, the filesystem's
	// statfs), notified for every descriptor. Made natively on a copy of a
	// served descriptor outside the range (a dup to a low number, a fork
	// or vfork child's inherited copy of a descriptor the fast lane's
	// library opened), it would reach the backing file, which neither door
	// reads: an fchmod would be lost. A descriptor that is no backing file
	// costs a round trip and is CONTINUEd. fstat stays notifyFD: it is
	// made on most files a program reads, and a wrong answer there loses
	// nothing (README, Limits).
	notifyAnyFD
	// notifyCred: always notified and always CONTINUEd; the syscall may
	// change the thread's credentials or umask, so the credential cache
	// forgets what it knew (credChange).
	notifyCred
	// notifyData: a data syscall (read, write, ...), notified for every
	// descriptor, and only by a filter built for fault rules that name it
	// (FilterFor); otherwise native. Its notifications are CONTINUEd
	// unless a fault fires.
	notifyData
)

// sysRow is one syscall the filter notifies.
type sysRow struct {
	nr   int32  // x86-64 number; filled in from the table's key
	name string // as in the kernel's syscall table and strace
	rule ruleKind
	// flagsArg is the index of the flags argument of a notifyEmptyPath
	// syscall.
	flagsArg uint
	// handle answers the syscall; nil CONTINUEs it: under the mount the
	// kernel then reaches the FUSE door, which serves the same
	// filesystem, so a handler is only ever a shortcut.
	handle handler
	// op names the syscall in events; registered at init.
	op event.Op
	// fsys names the syscall to the fault rules; args says where its
	// paths or descriptor are (inject.go). Both filled in at init.
	fsys faults.Sys
	args faultArgs
}

func pathRule(name string, h handler) sysRow { return sysRow{name: name, rule: notifyPath, handle: h} }
func fdRule(name string, h handler) sysRow   { return sysRow{name: name, rule: notifyFD, handle: h} }
func credRule(name string) sysRow            { return sysRow{name: name, rule: notifyCred, handle: credChange} }
func execRule(name string) sysRow            { return sysRow{name: name, rule: notifyCred, handle: execChange} }
func dataRule(name string) sysRow            { return sysRow{name: name, rule: notifyData} }

func anyFDRule(name string, h handler) sysRow {
	return sysRow{name: name, rule: notifyAnyFD, handle: h}
}

// viewRule is a syscall that changes how the caller sees the filesystem
// (its root, its mount or user namespace, its Landlock domain): what only
// the kernel knows. It is notified like a credential change, and from then
// on every process of its listener is left to the kernel (viewChange).
func viewRule(name string) sysRow { return sysRow{name: name, rule: notifyCred, handle: viewChange} }

func emptyPathRule(name string, flagsArg uint, h handler) sysRow {
	return sysRow{name: name, rule: notifyEmptyPath, flagsArg: flagsArg, handle: h}
}

// syscallTable is the one list of the syscalls the filter notifies, by
// x86-64 number. The filter (BuildFilter), the dispatch, FilterSyscalls
// and the event ops (one per row, under the row's name, which status,
// trace and the metrics show) are all generated from it; a syscall added
// here is notified, dispatched and named everywhere at once.
var syscallTable = map[int32]sysRow{
	// Opens.
	unix.SYS_OPEN:   pathRule("open", func(c *call) result { return c.open(unix.AT_FDCWD, c.arg(0), int(c.u32Arg(1)), c.u32Arg(2), 0) }),
	unix.SYS_OPENAT: pathRule("openat", func(c *call) result { return c.open(c.fdArg(0), c.arg(1), int(c.u32Arg(2)), c.u32Arg(3), 0) }),
	unix.SYS_CREAT: pathRule("creat", func(c *call) result {
		return c.open(unix.AT_FDCWD, c.arg(0), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, c.u32Arg(1), 0)
	}),
	unix.SYS_OPENAT2: pathRule("openat2", (*call).openat2),

	// Attributes.
	unix.SYS_STAT:  pathRule("stat", func(c *call) result { return c.stat(unix.AT_FDCWD, c.arg(0), c.arg(1), 0) }),
	unix.SYS_LSTAT: pathRule("lstat", func(c *call) result { return c.stat(unix.AT_FDCWD, c.arg(0), c.arg(1), unix.AT_SYMLINK_NOFOLLOW) }),
	unix.SYS_NEWFSTATAT: emptyPathRule("newfstatat", 3, func(c *call) result {
		return c.stat(c.fdArg(0), c.arg(1), c.arg(2), c.intArg(3))
	}),
	unix.SYS_STATX:   emptyPathRule("statx", 2, (*call).statx),
	unix.SYS_FSTAT:   fdRule("fstat", (*call).fstat),
	unix.SYS_STATFS:  pathRule("statfs", func(c *call) result { return c.statfs(c.arg(0), c.arg(1)) }),
	unix.SYS_FSTATFS: anyFDRule("fstatfs", (*call).fstatfs),

	unix.SYS_ACCESS:     pathRule("access", func(c *call) result { return c.access(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), 0) }),
	unix.SYS_FACCESSAT:  pathRule("faccessat", func(c *call) result { return c.access(c.fdArg(0), c.arg(1), c.u32Arg(2), 0) }),
	unix.SYS_FACCESSAT2: pathRule("faccessat2", func(c *call) result { return c.access(c.fdArg(0), c.arg(1), c.u32Arg(2), c.intArg(3)) }),

	unix.SYS_READLINK:   pathRule("readlink", func(c *call) result { return c.readlink(unix.AT_FDCWD, c.arg(0), c.arg(1), c.arg(2)) }),
	unix.SYS_READLINKAT: pathRule("readlinkat", func(c *call) result { return c.readlink(c.fdArg(0), c.arg(1), c.arg(2), c.arg(3)) }),

	// Attribute changes.
	unix.SYS_CHMOD:    pathRule("chmod", func(c *call) result { return c.chmod(unix.AT_FDCWD, c.arg(0), c.u32Arg(1)) }),
	unix.SYS_FCHMODAT: pathRule("fchmodat", func(c *call) result { return c.chmod(c.fdArg(0), c.arg(1), c.u32Arg(2)) }),
	unix.SYS_FCHMOD:   anyFDRule("fchmod", (*call).fchmod),
	unix.SYS_CHOWN: pathRule("chown", func(c *call) result {
		return c.chown(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.u32Arg(2), 0)
	}),
	unix.SYS_LCHOWN: pathRule("lchown", func(c *call) result {
		return c.chown(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.u32Arg(2), unix.AT_SYMLINK_NOFOLLOW)
	}),
	unix.SYS_FCHOWNAT: pathRule("fchownat", func(c *call) result {
		return c.chown(c.fdArg(0), c.arg(1), c.u32Arg(2), c.u32Arg(3), c.intArg(4))
	}),
	unix.SYS_FCHOWN:    anyFDRule("fchown", (*call).fchown),
	unix.SYS_TRUNCATE:  pathRule("truncate", func(c *call) result { return c.truncate(c.arg(0), int64(c.arg(1))) }),
	unix.SYS_FTRUNCATE: fdRule("ftruncate", (*call).ftruncate),
	unix.SYS_UTIMENSAT: pathRule("utimensat", func(c *call) result {
		return c.utimensat(c.fdArg(0), c.arg(1), c.arg(2), c.intArg(3))
	}),
	unix.SYS_UTIMES:    pathRule("utimes", nil),
	unix.SYS_FUTIMESAT: pathRule("futimesat", nil),
	unix.SYS_UTIME:     pathRule("utime", nil),

	// Names.
	unix.SYS_MKDIR:   pathRule("mkdir", func(c *call) result { return c.mkdir(unix.AT_FDCWD, c.arg(0), c.u32Arg(1)) }),
	unix.SYS_MKDIRAT: pathRule("mkdirat", func(c *call) result { return c.mkdir(c.fdArg(0), c.arg(1), c.u32Arg(2)) }),
	unix.SYS_MKNOD: pathRule("mknod", func(c *call) result {
		return c.mknod(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.arg(2))
	}),
	unix.SYS_MKNODAT: pathRule("mknodat", func(c *call) result { return c.mknod(c.fdArg(0), c.arg(1), c.u32Arg(2), c.arg(3)) }),
	unix.SYS_UNLINK:  pathRule("unlink", func(c *call) result { return c.unlink(unix.AT_FDCWD, c.arg(0), 0) }),
	unix.SYS_RMDIR: pathRule("rmdir", func(c *call) result {
		return c.unlink(unix.AT_FDCWD, c.arg(0), unix.AT_REMOVEDIR)
	}),
	unix.SYS_UNLINKAT: pathRule("unlinkat", func(c *call) result { return c.unlink(c.fdArg(0), c.arg(1), c.intArg(2)) }),
	unix.SYS_RENAME: pathRule("rename", func(c *call) result {
		return c.rename(unix.AT_FDCWD, c.arg(0), unix.AT_FDCWD, c.arg(1), 0)
	}),
	unix.SYS_RENAMEAT: pathRule("renameat", func(c *call) result {
		return c.rename(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), 0)
	}),
	unix.SYS_RENAMEAT2: pathRule("renameat2", func(c *call) result {
		return c.rename(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), c.u32Arg(4))
	}),
	unix.SYS_LINK: pathRule("link", func(c *call) result {
		return c.link(unix.AT_FDCWD, c.arg(0), unix.AT_FDCWD, c.arg(1), 0)
	}),
	unix.SYS_LINKAT: pathRule("linkat", func(c *call) result {
		return c.link(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), c.intArg(4))
	}),
	unix.SYS_SYMLINK:   pathRule("symlink", func(c *call) result { return c.symlink(c.arg(0), unix.AT_FDCWD, c.arg(1)) }),
	unix.SYS_SYMLINKAT: pathRule("symlinkat", func(c *call) result { return c.symlink(c.arg(0), c.fdArg(1), c.arg(2)) }),
	unix.SYS_CHDIR:     pathRule("chdir", nil),

	// Extended attributes, by path and on a served descriptor.
	unix.SYS_SETXATTR:     pathRule("setxattr", func(c *call) result { return c.pathSetxattr(atFollow) }),
	unix.SYS_LSETXATTR:    pathRule("lsetxattr", func(c *call) result { return c.pathSetxattr(0) }),
	unix.SYS_GETXATTR:     pathRule("getxattr", func(c *call) result { return c.pathGetxattr(atFollow) }),
	unix.SYS_LGETXATTR:    pathRule("lgetxattr", func(c *call) result { return c.pathGetxattr(0) }),
	unix.SYS_LISTXATTR:    pathRule("listxattr", func(c *call) result { return c.pathListxattr(atFollow) }),
	unix.SYS_LLISTXATTR:   pathRule("llistxattr", func(c *call) result { return c.pathListxattr(0) }),
	unix.SYS_REMOVEXATTR:  pathRule("removexattr", func(c *call) result { return c.pathRemovexattr(atFollow) }),
	unix.SYS_LREMOVEXATTR: pathRule("lremovexattr", func(c *call) result { return c.pathRemovexattr(0) }),
	unix.SYS_FGETXATTR:    anyFDRule("fgetxattr", (*call).fgetxattr),
	unix.SYS_FSETXATTR:    anyFDRule("fsetxattr", (*call).fsetxattr),
	unix.SYS_FLISTXATTR:   anyFDRule("flistxattr", (*call).flistxattr),
	unix.SYS_FREMOVEXATTR: anyFDRule("fremovexattr", (*call).fremovexattr),

	// Credentials, capabilities, user namespace and umask. execve is
	// among them because a setuid or file-capability program changes the
	// ids at exec; unshare and setns because entering a user namespace
	// changes the capabilities and the namespace.
	unix.SYS_SETUID:    credRule("setuid"),
	unix.SYS_SETGID:    credRule("setgid"),
	unix.SYS_SETREUID:  credRule("setreuid"),
	unix.SYS_SETREGID:  credRule("setregid"),
	unix.SYS_SETRESUID: credRule("setresuid"),
	unix.SYS_SETRESGID: credRule("setresgid"),
	unix.SYS_SETFSUID:  credRule("setfsuid"),
	unix.SYS_SETFSGID:  credRule("setfsgid"),
	unix.SYS_SETGROUPS: credRule("setgroups"),
	unix.SYS_CAPSET:    credRule("capset"),
	unix.SYS_UMASK:     credRule("umask"),

	// The caller's view of the filesystem.
	unix.SYS_CHROOT:                 viewRule("chroot"),
	unix.SYS_PIVOT_ROOT:             viewRule("pivot_root"),
	unix.SYS_UNSHARE:                viewRule("unshare"),
	unix.SYS_SETNS:                  viewRule("setns"),
	unix.SYS_LANDLOCK_RESTRICT_SELF: viewRule("landlock_restrict_self"),
	unix.SYS_EXECVE:                 execRule("execve"),
	unix.SYS_EXECVEAT:               execRule("execveat"),

	// Data syscalls, notified only for fault rules that name them
	// (ftruncate, an fdRule above, joins them then).
	unix.SYS_READ:      dataRule("read"),
	unix.SYS_WRITE:     dataRule("write"),
	unix.SYS_PREAD64:   dataRule("pread64"),
	unix.SYS_PWRITE64:  dataRule("pwrite64"),
	unix.SYS_READV:     dataRule("readv"),
	unix.SYS_WRITEV:    dataRule("writev"),
	unix.SYS_FSYNC:     dataRule("fsync"),
	unix.SYS_FDATASYNC: dataRule("fdatasync"),
	unix.SYS_FALLOCATE: dataRule("fallocate"),
	unix.SYS_LSEEK:     dataRule("lseek"),
}

// sysRows are syscallTable's rows in ascending number; sysByNr indexes
// them by number (nil for a syscall that is not notified). Both are built
// once at init and only read afterwards. Ops are registered in the same
// order, so that every process of this binary numbers them alike.
var (
	sysRows []sysRow
	sysByNr []*sysRow
)

func init() {
	nrs := make([]int32, 0, len(syscallTable))
	for nr := range syscallTable {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	sysRows = make([]sysRow, len(nrs))
	sysByNr = make([]*sysRow, nrs[len(nrs)-1]+1)
	for i, nr := range nrs {
		r := syscallTable[nr]
		r.nr = nr
		r.op = event.Register(r.name, expectedErrnos[nr]...)
		r.fsys = faults.SyscallID(r.name)
		r.args = faultArgsOf(&r)
		sysRows[i] = r
		sysByNr[nr] = &sysRows[i]
	}
}

// rowOf returns the row of syscall nr, or nil when the filter does not
// notify it.
func rowOf(nr int32) *sysRow {
	if nr < 0 || int(nr) >= len(sysByNr) {
		return nil
	}
	return sysByNr[nr]
}

// opOf is the event op of syscall nr.
func opOf(nr int32) event.Op {
	if r := rowOf(nr); r != nil {
		return r.op
	}
	return event.OpSyscall
}

// FilterSyscalls lists every syscall the filter without data fault rules
// may notify, by name in ascending number, for tests and documentation.
func FilterSyscalls() []string {
	out := make([]string, 0, len(sysRows))
	for i := range sysRows {
		if sysRows[i].rule != notifyData {
			out = append(out, sysRows[i].name)
		}
	}
	return out
}
