package faults

import "sort"

// Class bits of a syscall, for strace's %class names and btfuse's own.
const (
	clsFile    = 1 << iota // takes a file name (strace's %file)
	clsDesc                // takes a descriptor (strace's %desc)
	clsStat                // stat(2) family by name (%stat)
	clsLstat               // lstat(2) family (%lstat)
	clsFstat               // fstat family (%fstat)
	clsStatfs              // statfs by name (%statfs)
	clsFstatfs             // fstatfs (%fstatfs)
	clsCreds               // credential changes (%creds)
	clsRead                // btfuse: reads data (%read)
	clsWrite               // btfuse: writes data (%write)
	clsData                // btfuse: a data syscall on a descriptor (%data)
)

// sysInfo is one syscall a rule can name.
type sysInfo struct {
	name  string
	class uint32
}

// knownSyscalls are the syscalls btfuse can intercept on some lane: the
// path syscalls the seccomp filter always notifies, the descriptor
// syscalls it notifies on served descriptors, and the data syscalls it
// notifies when a rule names them. A rule naming any other syscall is
// refused (strace's '?' prefix makes it ignored instead), since no lane
// could ever apply it.
var knownSyscalls = []sysInfo{
	{"open", clsFile}, {"openat", clsFile | clsDesc}, {"creat", clsFile}, {"openat2", clsFile | clsDesc},
	{"stat", clsFile | clsStat}, {"lstat", clsFile | clsLstat}, {"newfstatat", clsFile | clsDesc | clsStat},
	{"statx", clsFile | clsDesc | clsStat}, {"fstat", clsDesc | clsFstat},
	{"statfs", clsFile | clsStatfs}, {"fstatfs", clsDesc | clsFstatfs},
	{"access", clsFile}, {"faccessat", clsFile | clsDesc}, {"faccessat2", clsFile | clsDesc},
	{"readlink", clsFile}, {"readlinkat", clsFile | clsDesc},
	{"chmod", clsFile}, {"fchmodat", clsFile | clsDesc}, {"fchmod", clsDesc},
	{"chown", clsFile}, {"lchown", clsFile}, {"fchownat", clsFile | clsDesc}, {"fchown", clsDesc},
	{"truncate", clsFile}, {"utimensat", clsFile | clsDesc}, {"utimes", clsFile}, {"futimesat", clsFile | clsDesc}, {"utime", clsFile},
	{"mkdir", clsFile}, {"mkdirat", clsFile | clsDesc}, {"mknod", clsFile}, {"mknodat", clsFile | clsDesc},
	{"unlink", clsFile}, {"rmdir", clsFile}, {"unlinkat", clsFile | clsDesc},
	{"rename", clsFile}, {"renameat", clsFile | clsDesc}, {"renameat2", clsFile | clsDesc},
	{"link", clsFile}, {"linkat", clsFile | clsDesc}, {"symlink", clsFile}, {"symlinkat", clsFile | clsDesc},
	{"chdir", clsFile},
	{"setxattr", clsFile}, {"lsetxattr", clsFile}, {"getxattr", clsFile}, {"lgetxattr", clsFile},
	{"listxattr", clsFile}, {"llistxattr", clsFile}, {"removexattr", clsFile}, {"lremovexattr", clsFile},
	{"fgetxattr", clsDesc}, {"fsetxattr", clsDesc}, {"flistxattr", clsDesc}, {"fremovexattr", clsDesc},
	{"execve", clsFile}, {"execveat", clsFile | clsDesc},
	{"setuid", clsCreds}, {"setgid", clsCreds}, {"setreuid", clsCreds}, {"setregid", clsCreds},
	{"setresuid", clsCreds}, {"setresgid", clsCreds}, {"setfsuid", clsCreds}, {"setfsgid", clsCreds},
	{"setgroups", clsCreds}, {"capset", clsCreds},
	// Data syscalls.
	{"read", clsDesc | clsData | clsRead}, {"pread64", clsDesc | clsData | clsRead}, {"readv", clsDesc | clsData | clsRead},
	{"write", clsDesc | clsData | clsWrite}, {"pwrite64", clsDesc | clsData | clsWrite}, {"writev", clsDesc | clsData | clsWrite},
	{"fsync", clsDesc | clsData}, {"fdatasync", clsDesc | clsData}, {"fallocate", clsDesc | clsData},
	{"ftruncate", clsDesc | clsData}, {"lseek", clsDesc | clsData},
}

// classes maps the %class names a rule may use to their bits.
var classes = map[string]uint32{
	"file": clsFile, "desc": clsDesc, "stat": clsStat, "lstat": clsLstat, "fstat": clsFstat,
	"%stat": clsStat | clsLstat | clsFstat, "statfs": clsStatfs, "fstatfs": clsFstatfs,
	"%statfs": clsStatfs | clsFstatfs, "creds": clsCreds,
	"read": clsRead, "write": clsWrite, "data": clsData,
}

// MaxSyscalls bounds the number of syscalls a rule can name: one bit each
// in a Mask.
const MaxSyscalls = 128

// Sys identifies a syscall a rule can name (its index in knownSyscalls).
// Lanes map their own syscall or operation numbers onto it once, with
// SyscallID.
type Sys uint8

// NoSys is the Sys of a name that no rule can name.
const NoSys Sys = 255

// Mask is a set of syscalls.
type Mask [MaxSyscalls / 64]uint64

func (m *Mask) set(s Sys)        { m[s/64] |= 1 << (s % 64) }
func (m *Mask) or(o *Mask)       { m[0] |= o[0]; m[1] |= o[1] }
func (m *Mask) empty() bool      { return m[0] == 0 && m[1] == 0 }
func (m *Mask) invert(all *Mask) { m[0] = ^m[0] & all[0]; m[1] = ^m[1] & all[1] }

// Or adds the syscalls of o to m.
func (m *Mask) Or(o *Mask) { m.or(o) }

// Has reports whether s is in m.
func (m *Mask) Has(s Sys) bool { return s != NoSys && m[s/64]&(1<<(s%64)) != 0 }

// Add puts s in m.
func (m *Mask) Add(s Sys) {
	if s != NoSys {
		m.set(s)
	}
}

var (
	sysIndex = map[string]Sys{}
	allMask  Mask
	dataMask Mask // the data syscalls: notified only when a rule names them
	rwMask   Mask // read and write families: short= and corrupt=
	wMask    Mask // write family: enospc=
)

func init() {
	if len(knownSyscalls) > MaxSyscalls {
		panic("faults: too many syscalls")
	}
	for i, s := range knownSyscalls {
		id := Sys(i)
		sysIndex[s.name] = id
		allMask.set(id)
		if s.class&clsData != 0 {
			dataMask.set(id)
		}
		if s.class&(clsRead|clsWrite) != 0 {
			rwMask.set(id)
		}
		if s.class&clsWrite != 0 {
			wMask.set(id)
		}
	}
}

// SyscallID returns the Sys of a syscall name, or NoSys.
func SyscallID(name string) Sys {
	if id, ok := sysIndex[name]; ok {
		return id
	}
	return NoSys
}

// Name is the syscall's name.
func (s Sys) Name() string {
	if int(s) < len(knownSyscalls) {
		return knownSyscalls[s].name
	}
	return "?"
}

// IsData reports whether s is a data syscall (read, write and the rest of
// %data): lanes leave those native unless a rule names them.
func (s Sys) IsData() bool { return dataMask.Has(s) }

// Syscalls lists the names in m, sorted.
func (m *Mask) Syscalls() []string {
	var out []string
	for i := range knownSyscalls {
		if m.Has(Sys(i)) {
			out = append(out, knownSyscalls[i].name)
		}
	}
	sort.Strings(out)
	return out
}

// DataSyscalls lists the data syscalls in m: what a lane must start to
// intercept for rules naming them.
func (m *Mask) DataSyscalls() []string {
	var d Mask
	d[0], d[1] = m[0]&dataMask[0], m[1]&dataMask[1]
	return d.Syscalls()
}

func (m *Mask) intersects(o *Mask) bool { return m[0]&o[0] != 0 || m[1]&o[1] != 0 }
