package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

type handler func(c *call) result

// handlers by syscall number (x86-64). A syscall the filter notifies but
// that has no handler here is CONTINUEd: inside the mount the kernel then
// reaches the FUSE door, which serves the same filesystem.
var handlers = map[int32]handler{
	unix.SYS_OPEN:   func(c *call) result { return c.open(unix.AT_FDCWD, c.arg(0), int(c.u32Arg(1)), c.u32Arg(2), 0) },
	unix.SYS_OPENAT: func(c *call) result { return c.open(c.fdArg(0), c.arg(1), int(c.u32Arg(2)), c.u32Arg(3), 0) },
	unix.SYS_CREAT: func(c *call) result {
		return c.open(unix.AT_FDCWD, c.arg(0), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, c.u32Arg(1), 0)
	},
	unix.SYS_OPENAT2: (*call).openat2,

	unix.SYS_STAT:       func(c *call) result { return c.stat(unix.AT_FDCWD, c.arg(0), c.arg(1), 0) },
	unix.SYS_LSTAT:      func(c *call) result { return c.stat(unix.AT_FDCWD, c.arg(0), c.arg(1), unix.AT_SYMLINK_NOFOLLOW) },
	unix.SYS_NEWFSTATAT: func(c *call) result { return c.stat(c.fdArg(0), c.arg(1), c.arg(2), c.intArg(3)) },
	unix.SYS_FSTAT:      (*call).fstat,
	unix.SYS_STATX:      (*call).statx,

	unix.SYS_ACCESS:     func(c *call) result { return c.access(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), 0) },
	unix.SYS_FACCESSAT:  func(c *call) result { return c.access(c.fdArg(0), c.arg(1), c.u32Arg(2), 0) },
	unix.SYS_FACCESSAT2: func(c *call) result { return c.access(c.fdArg(0), c.arg(1), c.u32Arg(2), c.intArg(3)) },

	unix.SYS_FCHMOD:    (*call).fchmod,
	unix.SYS_FCHOWN:    (*call).fchown,
	unix.SYS_FTRUNCATE: (*call).ftruncate,

	unix.SYS_FGETXATTR:    (*call).fgetxattr,
	unix.SYS_FSETXATTR:    (*call).fsetxattr,
	unix.SYS_FLISTXATTR:   (*call).flistxattr,
	unix.SYS_FREMOVEXATTR: (*call).fremovexattr,

	unix.SYS_MKDIR:    func(c *call) result { return c.mkdir(unix.AT_FDCWD, c.arg(0), c.u32Arg(1)) },
	unix.SYS_MKDIRAT:  func(c *call) result { return c.mkdir(c.fdArg(0), c.arg(1), c.u32Arg(2)) },
	unix.SYS_MKNOD:    func(c *call) result { return c.mknod(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.arg(2)) },
	unix.SYS_MKNODAT:  func(c *call) result { return c.mknod(c.fdArg(0), c.arg(1), c.u32Arg(2), c.arg(3)) },
	unix.SYS_UNLINK:   func(c *call) result { return c.unlink(unix.AT_FDCWD, c.arg(0), 0) },
	unix.SYS_RMDIR:    func(c *call) result { return c.unlink(unix.AT_FDCWD, c.arg(0), unix.AT_REMOVEDIR) },
	unix.SYS_UNLINKAT: func(c *call) result { return c.unlink(c.fdArg(0), c.arg(1), c.intArg(2)) },
	unix.SYS_RENAME: func(c *call) result {
		return c.rename(unix.AT_FDCWD, c.arg(0), unix.AT_FDCWD, c.arg(1), 0)
	},
	unix.SYS_RENAMEAT:  func(c *call) result { return c.rename(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), 0) },
	unix.SYS_RENAMEAT2: func(c *call) result { return c.rename(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), c.u32Arg(4)) },
	unix.SYS_SYMLINK:   func(c *call) result { return c.symlink(c.arg(0), unix.AT_FDCWD, c.arg(1)) },
	unix.SYS_SYMLINKAT: func(c *call) result { return c.symlink(c.arg(0), c.fdArg(1), c.arg(2)) },
	unix.SYS_LINK: func(c *call) result {
		return c.link(unix.AT_FDCWD, c.arg(0), unix.AT_FDCWD, c.arg(1), 0)
	},
	unix.SYS_LINKAT:   func(c *call) result { return c.link(c.fdArg(0), c.arg(1), c.fdArg(2), c.arg(3), c.intArg(4)) },
	unix.SYS_CHMOD:    func(c *call) result { return c.chmod(unix.AT_FDCWD, c.arg(0), c.u32Arg(1)) },
	unix.SYS_FCHMODAT: func(c *call) result { return c.chmod(c.fdArg(0), c.arg(1), c.u32Arg(2)) },
	unix.SYS_CHOWN: func(c *call) result {
		return c.chown(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.u32Arg(2), 0)
	},
	unix.SYS_LCHOWN: func(c *call) result {
		return c.chown(unix.AT_FDCWD, c.arg(0), c.u32Arg(1), c.u32Arg(2), unix.AT_SYMLINK_NOFOLLOW)
	},
	unix.SYS_FCHOWNAT: func(c *call) result {
		return c.chown(c.fdArg(0), c.arg(1), c.u32Arg(2), c.u32Arg(3), c.intArg(4))
	},
	unix.SYS_TRUNCATE:  func(c *call) result { return c.truncate(c.arg(0), int64(c.arg(1))) },
	unix.SYS_UTIMENSAT: func(c *call) result { return c.utimensat(c.fdArg(0), c.arg(1), c.arg(2), c.intArg(3)) },
	unix.SYS_STATFS:    func(c *call) result { return c.statfs(c.arg(0), c.arg(1)) },

	unix.SYS_READLINK:   func(c *call) result { return c.readlink(unix.AT_FDCWD, c.arg(0), c.arg(1), c.arg(2)) },
	unix.SYS_READLINKAT: func(c *call) result { return c.readlink(c.fdArg(0), c.arg(1), c.arg(2), c.arg(3)) },
}

func init() {
	for _, name := range credSyscalls {
		nr, ok := syscallNumbers[name]
		if !ok {
			panic("no number for " + name)
		}
		handlers[nr] = credChange
	}
}

// syscallNumbers of credSyscalls.
var syscallNumbers = map[string]int32{
	"setuid": unix.SYS_SETUID, "setgid": unix.SYS_SETGID,
	"setreuid": unix.SYS_SETREUID, "setregid": unix.SYS_SETREGID,
	"setresuid": unix.SYS_SETRESUID, "setresgid": unix.SYS_SETRESGID,
	"setfsuid": unix.SYS_SETFSUID, "setfsgid": unix.SYS_SETFSGID,
	"setgroups": unix.SYS_SETGROUPS, "capset": unix.SYS_CAPSET,
	"umask": unix.SYS_UMASK, "execve": unix.SYS_EXECVE, "execveat": unix.SYS_EXECVEAT,
}

// credChange lets a credential change through and makes the cache
// forget what it knew.
func credChange(c *call) result {
	c.s.creds.changed(c.tid)
	return cont()
}

// dispatch answers one notification.
func (s *Supervisor) dispatch(c *call) {
	var start time.Time
	if s.obs != nil {
		start = time.Now()
	}
	s.creds.seen(c.tid)
	var r result
	if c.n.Data.Arch != auditArchX8664 {
		r = fail(unix.ENOSYS)
	} else if h := handlers[c.n.Data.Nr]; h != nil {
		r = h(c)
	} else {
		r = cont()
	}
	s.send(c.l.fd, c.n.ID, r)
	if s.onAnswer != nil {
		s.onAnswer(c.n.Data.Nr, c.pathArg, r)
	}
	if s.obs != nil {
		s.observe(c, r, start)
	}
}
