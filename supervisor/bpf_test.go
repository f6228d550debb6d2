package supervisor

import (
	"testing"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// runBPF interprets a classic seccomp BPF program on d, as the kernel's
// seccomp checker allows it (net/core/filter.c, seccomp_check_filter).
func runBPF(t testing.TB, prog []unix.SockFilter, d *seccompData) uint32 {
	t.Helper()
	r, _ := runBPFSteps(t, prog, d)
	return r
}

// runBPFSteps is runBPF that also returns how many instructions ran.
func runBPFSteps(t testing.TB, prog []unix.SockFilter, d *seccompData) (ret uint32, steps int) {
	t.Helper()
	b := asBytes(d)
	var a, x uint32
	var mem [16]uint32
	word := func(off uint32) uint32 {
		if off+4 > uint32(len(b)) {
			t.Fatalf("load past seccomp_data at %d", off)
		}
		return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
	}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		steps++
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = word(in.K)
		case unix.BPF_LD | unix.BPF_IMM:
			a = in.K
		case unix.BPF_LDX | unix.BPF_IMM:
			x = in.K
		case unix.BPF_LD | unix.BPF_MEM:
			a = mem[in.K]
		case unix.BPF_LDX | unix.BPF_MEM:
			x = mem[in.K]
		case unix.BPF_ST:
			mem[in.K] = a
		case unix.BPF_STX:
			mem[in.K] = x
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_ALU | unix.BPF_OR | unix.BPF_K:
			a |= in.K
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += jumpOffset(in, a)
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps
		case unix.BPF_RET | unix.BPF_A:
			return a, steps
		default:
			t.Fatalf("instruction %#x at %d not interpreted", in.Code, pc)
		}
	}
	t.Fatal("program ran off its end")
	return 0, steps
}

// jumpOffset is how far a conditional jump (JEQ, JGT, JGE or JSET
// against K) goes with a in the accumulator.
func jumpOffset(in unix.SockFilter, a uint32) int {
	var c bool
	switch in.Code & 0xf0 {
	case unix.BPF_JEQ:
		c = a == in.K
	case unix.BPF_JGT:
		c = a > in.K
	case unix.BPF_JGE:
		c = a >= in.K
	case unix.BPF_JSET:
		c = a&in.K != 0
	}
	if c {
		return int(in.Jt)
	}
	return int(in.Jf)
}

const (
	auditArchI386 = 0x40000003
	x32Bit        = 0x40000000
	retAllow      = unix.SECCOMP_RET_ALLOW
	retNotify     = unix.SECCOMP_RET_USER_NOTIF
	retENOSYS     = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func TestFilterRules(t *testing.T) {
	const base = 768
	prog, err := BuildFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	fdcwd := uint64(0xffffffffffffff9c) // AT_FDCWD sign-extended, as glibc passes it
	tests := []struct {
		name string
		arch uint32
		nr   int32
		args [6]uint64
		want uint32
	}{
		{"openat", auditArchX8664, unix.SYS_OPENAT, [6]uint64{fdcwd}, retNotify},
		{"open", auditArchX8664, unix.SYS_OPEN, [6]uint64{}, retNotify},
		{"openat2", auditArchX8664, unix.SYS_OPENAT2, [6]uint64{3}, retNotify},
		{"statx path", auditArchX8664, unix.SYS_STATX, [6]uint64{fdcwd, 1, 0}, retNotify},
		{"statx low fd empty path", auditArchX8664, unix.SYS_STATX, [6]uint64{3, 1, unix.AT_EMPTY_PATH}, retAllow},
		{"statx reserved fd empty path", auditArchX8664, unix.SYS_STATX, [6]uint64{base + 3, 1, unix.AT_EMPTY_PATH}, retNotify},
		{"newfstatat path", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{fdcwd, 1, 2, 0}, retNotify},
		{"fstat via newfstatat low fd", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{3, 1, 2, unix.AT_EMPTY_PATH}, retAllow},
		{"fstat via newfstatat stdout", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{1, 1, 2, unix.AT_EMPTY_PATH}, retNotify},
		{"fstat via newfstatat stdin", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{0, 1, 2, unix.AT_EMPTY_PATH}, retNotify},
		{"fstat via newfstatat AT_FDCWD", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{fdcwd, 1, 2, unix.AT_EMPTY_PATH}, retNotify},
		{"statx stderr empty path", auditArchX8664, unix.SYS_STATX, [6]uint64{2, 1, unix.AT_EMPTY_PATH}, retNotify},
		{"fstat stdout", auditArchX8664, unix.SYS_FSTAT, [6]uint64{1}, retNotify},
		{"fstat fd 3", auditArchX8664, unix.SYS_FSTAT, [6]uint64{3}, retAllow},
		{"fchmod stdout", auditArchX8664, unix.SYS_FCHMOD, [6]uint64{1}, retNotify},
		{"fstat via newfstatat reserved", auditArchX8664, unix.SYS_NEWFSTATAT, [6]uint64{base, 1, 2, unix.AT_EMPTY_PATH}, retNotify},
		{"fstat low", auditArchX8664, unix.SYS_FSTAT, [6]uint64{base - 1}, retAllow},
		{"fstat reserved", auditArchX8664, unix.SYS_FSTAT, [6]uint64{base}, retNotify},
		{"fchmod reserved", auditArchX8664, unix.SYS_FCHMOD, [6]uint64{base + 10}, retNotify},
		{"ftruncate low", auditArchX8664, unix.SYS_FTRUNCATE, [6]uint64{4}, retAllow},
		{"read reserved", auditArchX8664, unix.SYS_READ, [6]uint64{base}, retAllow},
		{"write", auditArchX8664, unix.SYS_WRITE, [6]uint64{1}, retAllow},
		{"pread64", auditArchX8664, unix.SYS_PREAD64, [6]uint64{base}, retAllow},
		{"close", auditArchX8664, unix.SYS_CLOSE, [6]uint64{base}, retAllow},
		{"mkdirat", auditArchX8664, unix.SYS_MKDIRAT, [6]uint64{fdcwd}, retNotify},
		{"renameat2", auditArchX8664, unix.SYS_RENAMEAT2, [6]uint64{}, retNotify},
		{"getxattr", auditArchX8664, unix.SYS_GETXATTR, [6]uint64{}, retNotify},
		// Metadata through any descriptor: a copy of a served one may
		// sit anywhere (notifyAnyFD).
		{"fgetxattr low", auditArchX8664, unix.SYS_FGETXATTR, [6]uint64{5}, retNotify},
		{"fchmod low", auditArchX8664, unix.SYS_FCHMOD, [6]uint64{3}, retNotify},
		{"fchown low", auditArchX8664, unix.SYS_FCHOWN, [6]uint64{4}, retNotify},
		{"fsetxattr low", auditArchX8664, unix.SYS_FSETXATTR, [6]uint64{base - 1}, retNotify},
		{"fremovexattr low", auditArchX8664, unix.SYS_FREMOVEXATTR, [6]uint64{7}, retNotify},
		{"flistxattr low", auditArchX8664, unix.SYS_FLISTXATTR, [6]uint64{7}, retNotify},
		{"fstatfs low", auditArchX8664, unix.SYS_FSTATFS, [6]uint64{3}, retNotify},
		{"fgetxattr stderr", auditArchX8664, unix.SYS_FGETXATTR, [6]uint64{2}, retNotify},
		{"execve", auditArchX8664, unix.SYS_EXECVE, [6]uint64{}, retNotify},
		{"umask", auditArchX8664, unix.SYS_UMASK, [6]uint64{}, retNotify},
		{"setfsuid", auditArchX8664, unix.SYS_SETFSUID, [6]uint64{}, retNotify},
		{"getpid", auditArchX8664, unix.SYS_GETPID, [6]uint64{}, retAllow},
		{"i386 open (int 0x80)", auditArchI386, 5, [6]uint64{}, retENOSYS},
		{"i386 getpid", auditArchI386, 20, [6]uint64{}, retENOSYS},
		{"x32 openat", auditArchX8664, x32Bit | unix.SYS_OPENAT, [6]uint64{fdcwd}, retENOSYS},
		{"x32 getpid", auditArchX8664, x32Bit | 39, [6]uint64{}, retENOSYS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := seccompData{Nr: tt.nr, Arch: tt.arch, Args: tt.args}
			if got := runBPF(t, prog, &d); got != tt.want {
				t.Errorf("filter returns %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestReservedRange(t *testing.T) {
	for _, tt := range []struct{ soft, base, size int }{
		{1024, 768, 256}, {20000, 19744, 256}, {100, 75, 25},
	} {
		if b, s := ReservedRange(uint64(tt.soft)); b != tt.base || s != tt.size {
			t.Errorf("ReservedRange(%d) = %d, %d; want %d, %d", tt.soft, b, s, tt.base, tt.size)
		}
	}
}

// constAllow reports whether the kernel's seccomp action cache can take nr
// as always allowed: it emulates the program with only the syscall number
// and architecture known, as kernel/seccomp.c:seccomp_is_const_allow()
// does when a filter is attached, and gives up on any load of an argument
// or any instruction it does not model. A syscall the cache takes skips
// the BPF program altogether on every call.
func constAllow(prog []unix.SockFilter, arch uint32, nr int32) bool {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch in.K {
			case 0: // offsetof(struct seccomp_data, nr)
				a = uint32(nr)
			case 4: // arch
				a = arch
			default:
				return false
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K == unix.SECCOMP_RET_ALLOW
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += jumpOffset(in, a)
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		default:
			return false
		}
	}
	return false
}

// TestFilterConstAllow: every syscall the filter never notifies is one the
// kernel's action cache can allow without running the program, so that
// syscalls outside the mount (read, write, pread, mmap, futex, ...) cost
// what they cost natively.
// The fast filter's trampoline check sits in the notifying branches only,
// so it must keep this too.
func TestFilterConstAllow(t *testing.T) {
	for name, build := range map[string]func(int) ([]unix.SockFilter, error){"plain": BuildFilter, "fast": BuildFastFilter} {
		t.Run(name, func(t *testing.T) {
			prog, err := build(768)
			if err != nil {
				t.Fatal(err)
			}
			checkConstAllow(t, prog)
		})
	}
}

func checkConstAllow(t *testing.T, prog []unix.SockFilter) {
	notified := map[int32]bool{}
	for _, name := range FilterSyscalls() {
		sc, err := seccomp.GetSyscallFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		notified[int32(sc)] = true
	}
	var slow []int32
	for nr := int32(0); nr < 463; nr++ {
		if notified[nr] {
			if constAllow(prog, auditArchX8664, nr) {
				t.Errorf("syscall %d is notified, yet the cache would allow it", nr)
			}
			continue
		}
		if !constAllow(prog, auditArchX8664, nr) {
			slow = append(slow, nr)
		}
	}
	if len(slow) > 0 {
		t.Errorf("syscalls the filter never notifies but the kernel's cache cannot allow (the program runs for each call): %v", slow)
	}
}
