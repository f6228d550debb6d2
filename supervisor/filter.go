package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// maxStdFd is the highest standard descriptor. The descriptor rules
// (notifyFD, notifyEmptyPath) also notify descriptors 0 to 2: a shell
// redirection ('cat f >> f', 'wc < f') dup2()s a served descriptor there,
// where fstat would otherwise be native and show the backing file's st_dev
// and st_ino instead of the inode a path stat shows: programs that compare
// the identity of their input and output (GNU cat's "input file is output
// file") must see the same inode both ways. The cost is one round trip for
// the fstat of a standard stream that stdio makes once per process. Other
// dup'd descriptors (exec 3< f) stay native.
const maxStdFd = 2

// BuildFilter compiles the filter for a target whose reserved descriptor
// range starts at base: the notify rules of syscallTable, everything else
// allowed, and any other architecture's syscalls (i386 through int 0x80,
// x32 numbers) refused with ENOSYS. libseccomp builds the program; it is
// exported as classic BPF so that the child can load it with seccomp(2)
// and the flags Debian's libseccomp 2.5 cannot set (WAIT_KILLABLE_RECV).
func BuildFilter(base int) ([]unix.SockFilter, error) { return buildFilter(base, nil) }

// FilterFor returns a filter builder like BuildFilter that also notifies
// the data syscalls named in data (read, write, ..., and ftruncate) for
// every descriptor, so that fault rules can reach them. Names of other
// syscalls are an error.
func FilterFor(data []string) (func(base int) ([]unix.SockFilter, error), error) {
	want := map[string]bool{}
	for _, n := range data {
		r := rowByName(n)
		if r == nil || (r.rule != notifyData && r.name != "ftruncate") {
			return nil, fmt.Errorf("%s is not a data syscall the filter can notify", n)
		}
		want[n] = true
	}
	return func(base int) ([]unix.SockFilter, error) { return buildFilter(base, want) }, nil
}

func rowByName(name string) *sysRow {
	for i := range sysRows {
		if sysRows[i].name == name {
			return &sysRows[i]
		}
	}
	return nil
}

func buildFilter(base int, data map[string]bool) ([]unix.SockFilter, error) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("new seccomp filter: %w", err)
	}
	defer f.Release()
	if err := f.SetBadArchAction(seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return nil, fmt.Errorf("bad-arch action: %w", err)
	}
	// The child sets no_new_privs itself when it needs to.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	notify := seccomp.ActNotify
	add := func(r *sysRow, conds ...seccomp.ScmpCondition) error {
		var err error
		if len(conds) == 0 {
			err = f.AddRule(seccomp.ScmpSyscall(r.nr), notify)
		} else {
			err = f.AddRuleConditional(seccomp.ScmpSyscall(r.nr), notify, conds)
		}
		if err != nil {
			return fmt.Errorf("rule for %s: %w", r.name, err)
		}
		return nil
	}
	inRange, err := seccomp.MakeCondition(0, seccomp.CompareGreaterEqual, uint64(base))
	if err != nil {
		return nil, err
	}
	// Compared as 64 bits: AT_FDCWD, sign-extended, is not standard.
	std, err := seccomp.MakeCondition(0, seccomp.CompareLessOrEqual, maxStdFd)
	if err != nil {
		return nil, err
	}
	for i := range sysRows {
		r := &sysRows[i]
		if data[r.name] {
			if err := add(r); err != nil {
				return nil, err
			}
			continue
		}
		var err error
		switch r.rule {
		case notifyData:
		case notifyPath, notifyCred:
			err = add(r)
		case notifyEmptyPath:
			var noEmpty seccomp.ScmpCondition
			noEmpty, err = seccomp.MakeCondition(r.flagsArg, seccomp.CompareMaskedEqual, unix.AT_EMPTY_PATH, 0)
			if err == nil {
				err = errors.Join(add(r, noEmpty), add(r, inRange), add(r, std))
			}
		case notifyFD:
			err = errors.Join(add(r, inRange), add(r, std))
		default:
			err = fmt.Errorf("syscall %s: no filter rule", r.name)
		}
		if err != nil {
			return nil, err
		}
	}
	return exportBPF(f)
}

// exportBPF writes the filter's program to a memfd and reads it back.
func exportBPF(f *seccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("btfuse-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "btfuse-bpf")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("export BPF: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(mf)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("export BPF: %d bytes", len(b))
	}
	return progFromBytes(b), nil
}

// ReservedRange picks the reserved descriptor range for a process whose
// soft RLIMIT_NOFILE is soft: the top quarter, at most 256 descriptors.
func ReservedRange(soft uint64) (base, size int) {
	size = 256
	if q := int(soft / 4); q < size {
		size = q
	}
	return int(soft) - size, size
}
