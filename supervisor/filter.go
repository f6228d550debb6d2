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
func BuildFilter(base int) ([]unix.SockFilter, error) { return buildFilter(base, nil, false) }

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
	return func(base int) ([]unix.SockFilter, error) { return buildFilter(base, want, false) }, nil
}

func rowByName(name string) *sysRow {
	for i := range sysRows {
		if sysRows[i].name == name {
			return &sysRows[i]
		}
	}
	return nil
}

// BuildFastFilter is BuildFilter for a target that runs the fast lane's
// preload library: a path syscall whose instruction pointer lies in the
// trampoline page (TrampolinePage) is allowed without a notification.
// The library makes its calls outside the mount from there. The check
// sits only in the branches that would notify a path syscall, after the
// architecture and syscall-number tests, so that the kernel's action
// cache still allows every other syscall without running the program
// (TestFilterConstAllow). The metadata calls on descriptors above the
// standard ones (notifyAnyFD) are allowed from the page as well: the
// library makes them there only on a descriptor of another filesystem
// than the backing files'. The other descriptor rules, credential and
// view changes (execve, umask, set*id, unshare...) stay notified from
// anywhere, and so is the library's doorbell (DoorbellNr).
//
// Not a boundary: a program that jumps into the page only reaches the
// kernel, which sends paths in the mount through the FUSE mount.
func BuildFastFilter(base int) ([]unix.SockFilter, error) {
	return buildFilter(base, nil, true)
}

// TrampolinePage is the address of the fast lane's trampoline page, which
// its library maps in every target (fastlane/preload/trampoline.h, kept
// equal by fastlane's TestTrampolineAddrMatches), and trampolineSize its
// length.
const (
	TrampolinePage = 0x7e0000000000
	trampolineSize = 4096
)

// pathMark is the action the path rules of a fast filter get from
// libseccomp, which compares arguments only: a trace action with this
// data, which nothing else in the filter uses, and which trampolineCheck
// then replaces by a jump to the instruction-pointer check.
const pathMark = unix.SECCOMP_RET_TRACE | 0x7f0b

// buildFilter builds the filter for a reserved range at base; data names
// the data syscalls to notify for every descriptor (FilterFor), and fast
// adds the trampoline check (BuildFastFilter).
func buildFilter(base int, data map[string]bool, fast bool) ([]unix.SockFilter, error) {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("new seccomp filter: %w", err)
	}
	defer f.Release()
	if err := f.SetBadArchAction(seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return nil, fmt.Errorf("bad-arch action: %w", err)
	}
	// A binary search on the syscall number instead of one comparison
	// per rule: the program runs for every notified syscall, and for
	// every path syscall the fast lane makes outside the mount through
	// its trampoline (TestFilterDepth).
	if err := f.SetOptimize(2); err != nil {
		return nil, fmt.Errorf("filter optimize: %w", err)
	}
	// The child sets no_new_privs itself when it needs to.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	notify, pathNotify := seccomp.ActNotify, seccomp.ActNotify
	if fast {
		pathNotify = seccomp.ActTrace.SetReturnCode(int16(pathMark & unix.SECCOMP_RET_DATA))
	}
	addAct := func(act seccomp.ScmpAction, r *sysRow, conds ...seccomp.ScmpCondition) error {
		var err error
		if len(conds) == 0 {
			err = f.AddRule(seccomp.ScmpSyscall(r.nr), act)
		} else {
			err = f.AddRuleConditional(seccomp.ScmpSyscall(r.nr), act, conds)
		}
		if err != nil {
			return fmt.Errorf("rule for %s: %w", r.name, err)
		}
		return nil
	}
	add := func(r *sysRow, conds ...seccomp.ScmpCondition) error { return addAct(notify, r, conds...) }
	inRange, err := seccomp.MakeCondition(0, seccomp.CompareGreaterEqual, uint64(base))
	if err != nil {
		return nil, err
	}
	// Compared as 64 bits: AT_FDCWD, sign-extended, is not standard.
	std, err := seccomp.MakeCondition(0, seccomp.CompareLessOrEqual, maxStdFd)
	if err != nil {
		return nil, err
	}
	aboveStd, err := seccomp.MakeCondition(0, seccomp.CompareGreater, maxStdFd)
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
		case notifyPath:
			err = addAct(pathNotify, r)
		case notifyCred:
			err = add(r)
		case notifyEmptyPath:
			var noEmpty seccomp.ScmpCondition
			noEmpty, err = seccomp.MakeCondition(r.flagsArg, seccomp.CompareMaskedEqual, unix.AT_EMPTY_PATH, 0)
			if err == nil {
				err = errors.Join(addAct(pathNotify, r, noEmpty), add(r, inRange), add(r, std))
			}
		case notifyFD:
			err = errors.Join(add(r, inRange), add(r, std))
		case notifyAnyFD:
			// Above the standard descriptors the fast lane's library
			// may make the call from the trampoline, on a descriptor
			// it found on another filesystem than the backing files'
			// (which no served descriptor is, in the range or not).
			err = errors.Join(addAct(pathNotify, r, aboveStd), add(r, std))
		default:
			err = fmt.Errorf("syscall %s: no filter rule", r.name)
		}
		if err != nil {
			return nil, err
		}
	}
	if fast {
		// The fast lane's doorbell (doorbell.go), from anywhere.
		if err := f.AddRule(seccomp.ScmpSyscall(DoorbellNr), seccomp.ActNotify); err != nil {
			return nil, fmt.Errorf("rule for the doorbell: %w", err)
		}
	}
	prog, err := exportBPF(f)
	if err != nil || !fast {
		return prog, err
	}
	return trampolineCheck(prog)
}

// trampolineCheck replaces every pathMark return of prog by a jump to a
// check appended at its end: allow when seccomp_data.instruction_pointer
// (the address after the syscall instruction) lies in the trampoline
// page, notify otherwise. A jump always lands further on, and replacing
// one instruction by one keeps every other jump's offset.
func trampolineCheck(prog []unix.SockFilter) ([]unix.SockFilter, error) {
	const (
		ipLo = 8  // offsetof(struct seccomp_data, instruction_pointer), low word
		ipHi = 12 // high word
		lo   = TrampolinePage & 0xffffffff
		hi   = TrampolinePage >> 32
	)
	if lo+trampolineSize > 1<<32-1 {
		return nil, errors.New("trampoline page crosses a 4 GiB boundary")
	}
	check := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: ipHi},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: hi, Jt: 0, Jf: 4},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: ipLo},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: lo, Jt: 0, Jf: 2},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: lo + trampolineSize, Jt: 1, Jf: 0},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
	}
	out := append(make([]unix.SockFilter, 0, len(prog)+len(check)), prog...)
	marks := 0
	for pc, in := range out {
		if in.Code != unix.BPF_RET|unix.BPF_K || in.K&unix.SECCOMP_RET_ACTION_FULL != unix.SECCOMP_RET_TRACE {
			continue
		}
		if in.K != pathMark {
			return nil, fmt.Errorf("filter returns trace action %#x at %d", in.K, pc)
		}
		out[pc] = unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(prog) - pc - 1)}
		marks++
	}
	if marks == 0 {
		return nil, errors.New("filter has no path rule to check the trampoline in")
	}
	return append(out, check...), nil
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
