package supervisor

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestFastFilterTrampoline: the fast filter allows a path syscall made
// from the trampoline page and notifies the same syscall made from
// anywhere else; descriptor, credential and view rules stay notified from
// the page too.
func TestFastFilterTrampoline(t *testing.T) {
	const base = 768
	prog, err := BuildFastFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	fdcwd := uint64(0xffffffffffffff9c)
	const (
		inPage   = TrampolinePage + 0x1a // after the stub's syscall instruction
		libc     = 0x7f3c12345678
		pastPage = TrampolinePage + trampolineSize
		below    = TrampolinePage - 1
		sameLow  = TrampolinePage&0xffffffff | 0x7f00<<32 + 0x10 // low word in the page, high word not
	)
	tests := []struct {
		name string
		nr   int32
		args [6]uint64
		ip   uint64
		want uint32
	}{
		{"openat from the page", unix.SYS_OPENAT, [6]uint64{fdcwd}, inPage, retAllow},
		{"openat from libc", unix.SYS_OPENAT, [6]uint64{fdcwd}, libc, retNotify},
		{"openat just past the page", unix.SYS_OPENAT, [6]uint64{fdcwd}, pastPage, retNotify},
		{"openat just below the page", unix.SYS_OPENAT, [6]uint64{fdcwd}, below, retNotify},
		{"openat at the page's start", unix.SYS_OPENAT, [6]uint64{fdcwd}, TrampolinePage, retAllow},
		{"openat, low word in the page only", unix.SYS_OPENAT, [6]uint64{fdcwd}, sameLow, retNotify},
		{"open from the page", unix.SYS_OPEN, [6]uint64{}, inPage, retAllow},
		{"newfstatat path from the page", unix.SYS_NEWFSTATAT, [6]uint64{fdcwd, 1, 2, 0}, inPage, retAllow},
		{"newfstatat path from libc", unix.SYS_NEWFSTATAT, [6]uint64{fdcwd, 1, 2, 0}, libc, retNotify},
		{"statx path from the page", unix.SYS_STATX, [6]uint64{fdcwd, 1, 0}, inPage, retAllow},
		{"readlinkat from the page", unix.SYS_READLINKAT, [6]uint64{fdcwd}, inPage, retAllow},
		{"mkdirat from the page", unix.SYS_MKDIRAT, [6]uint64{fdcwd}, inPage, retAllow},
		{"renameat2 from the page", unix.SYS_RENAMEAT2, [6]uint64{}, inPage, retAllow},
		{"getxattr from the page", unix.SYS_GETXATTR, [6]uint64{}, inPage, retAllow},
		{"chdir from the page", unix.SYS_CHDIR, [6]uint64{}, inPage, retAllow},
		{"chdir from libc", unix.SYS_CHDIR, [6]uint64{}, libc, retNotify},
		// What the library never makes from the page stays notified.
		{"fstat of a reserved fd from the page", unix.SYS_FSTAT, [6]uint64{base}, inPage, retNotify},
		{"fstat of stdout from the page", unix.SYS_FSTAT, [6]uint64{1}, inPage, retNotify},
		{"fstatat empty path, reserved fd, from the page", unix.SYS_NEWFSTATAT, [6]uint64{base, 1, 2, unix.AT_EMPTY_PATH}, inPage, retNotify},
		{"statx empty path, stderr, from the page", unix.SYS_STATX, [6]uint64{2, 1, unix.AT_EMPTY_PATH}, inPage, retNotify},
		{"fchmod reserved from libc", unix.SYS_FCHMOD, [6]uint64{base + 1}, libc, retNotify},
		{"fchmod stdout from the page", unix.SYS_FCHMOD, [6]uint64{1}, inPage, retNotify},
		{"fsetxattr below the range from libc", unix.SYS_FSETXATTR, [6]uint64{base - 1}, libc, retNotify},
		{"fchmod fd 3 from libc", unix.SYS_FCHMOD, [6]uint64{3}, libc, retNotify},
		// ... and below the range from the page, where the library
		// makes them on a descriptor of another filesystem.
		{"fchmod fd 3 from the page", unix.SYS_FCHMOD, [6]uint64{3}, inPage, retAllow},
		{"fstatfs below the range from the page", unix.SYS_FSTATFS, [6]uint64{base - 1}, inPage, retAllow},
		{"fchown in the range from the page", unix.SYS_FCHOWN, [6]uint64{base + 1}, inPage, retAllow},
		{"execve from the page", unix.SYS_EXECVE, [6]uint64{}, inPage, retNotify},
		{"umask from the page", unix.SYS_UMASK, [6]uint64{}, inPage, retNotify},
		{"setuid from the page", unix.SYS_SETUID, [6]uint64{}, inPage, retNotify},
		{"unshare from the page", unix.SYS_UNSHARE, [6]uint64{}, inPage, retNotify},
		// The doorbell, from anywhere.
		{"doorbell from libc", DoorbellNr, [6]uint64{1, 2}, libc, retNotify},
		{"doorbell from the page", DoorbellNr, [6]uint64{1, 2}, inPage, retNotify},
		// And what was allowed stays allowed.
		{"getpid from libc", unix.SYS_GETPID, [6]uint64{}, libc, retAllow},
		{"fstat fd 3 from libc", unix.SYS_FSTAT, [6]uint64{3}, libc, retAllow},
		{"x32 openat from the page", x32Bit | unix.SYS_OPENAT, [6]uint64{fdcwd}, inPage, retENOSYS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := seccompData{Nr: tt.nr, Arch: auditArchX8664, IP: tt.ip, Args: tt.args}
			if got := runBPF(t, prog, &d); got != tt.want {
				t.Errorf("filter returns %#x, want %#x", got, tt.want)
			}
		})
	}
	d := seccompData{Nr: 5, Arch: auditArchI386, IP: inPage}
	if got := runBPF(t, prog, &d); got != retENOSYS {
		t.Errorf("i386 fstat from the page: %#x, want ENOSYS", got)
	}
	// The plain filter lets the doorbell reach the kernel, which has no
	// such syscall: ENOSYS, and the library stops ringing.
	plain, err := BuildFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	d = seccompData{Nr: DoorbellNr, Arch: auditArchX8664, IP: libc}
	if got := runBPF(t, plain, &d); got != retAllow {
		t.Errorf("doorbell under the plain filter: %#x, want allow", got)
	}
}

// TestFastFilterSameElsewhere: from any address outside the page, the
// fast filter answers every syscall of the table, with argument sets that
// take each rule's branches, exactly as the plain filter does.
func TestFastFilterSameElsewhere(t *testing.T) {
	const base = 768
	plain, err := BuildFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := BuildFastFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	argSets := [][6]uint64{
		{}, {0xffffffffffffff9c, 1, 2, 0}, {1, 0, unix.AT_EMPTY_PATH, unix.AT_EMPTY_PATH},
		{base, 0, unix.AT_EMPTY_PATH, unix.AT_EMPTY_PATH}, {5, 0, unix.AT_EMPTY_PATH, unix.AT_EMPTY_PATH}, {base - 1}, {base + 255},
	}
	for nr := int32(0); nr < 463; nr++ {
		for _, args := range argSets {
			for _, ip := range []uint64{0, 0x7f3c12345678, TrampolinePage - 1, TrampolinePage + trampolineSize} {
				d := seccompData{Nr: nr, Arch: auditArchX8664, IP: ip, Args: args}
				if p, f := runBPF(t, plain, &d), runBPF(t, fast, &d); p != f {
					t.Fatalf("syscall %d args %v ip %#x: plain filter %#x, fast filter %#x", nr, args, ip, p, f)
				}
			}
		}
	}
}

// lanes are the ways 'btfuse run' serves a dynamically linked program:
// the seccomp lane alone (--no-fast-lane), and with the fast lane's
// library preloaded.
var lanes = []string{"seccomp", "fast"}

// withLane gives s the fast lane's library, built for the test, when lane
// is "fast".
func withLane(t testing.TB, s *supervised, lane string) *supervised {
	t.Helper()
	if lane != "fast" {
		return s
	}
	testutil.RequireProgram(t, "gcc")
	dir := t.TempDir()
	// Targets run as other users in some scripts: they must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, preloadlib.LibName)
	if err := preloadlib.Build(lib); err != nil {
		t.Fatal(err)
	}
	s.fastLib = lib
	return s
}

// TestTrampolineAddrMatches: the library maps its trampoline page where
// the filter looks for it.
func TestTrampolineAddrMatches(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(preloadlib.SourceDir(), "trampoline.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#define FL_TRAMPOLINE_ADDR (0x[0-9a-fA-F]+)UL$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("trampoline.h defines no FL_TRAMPOLINE_ADDR")
	}
	addr, err := strconv.ParseUint(string(m[1]), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	if addr != TrampolinePage {
		t.Errorf("trampoline.h has %#x, supervisor.TrampolinePage %#x", addr, uint64(TrampolinePage))
	}
}

// TestFilterDepth: the filter finds a syscall's rules by a binary search
// on its number (libseccomp's optimize level 2), so that a path syscall
// the program makes outside the mount through the trampoline, which runs
// the filter every time, runs a few dozen instructions and not one
// comparison per syscall of the table before it (newfstatat ran 91 of
// them with the default order, statx 92).
func TestFilterDepth(t *testing.T) {
	const base = 768
	fdcwd := uint64(0xffffffffffffff9c)
	for name, build := range map[string]func(int) ([]unix.SockFilter, error){"plain": BuildFilter, "fast": BuildFastFilter} {
		prog, err := build(base)
		if err != nil {
			t.Fatal(err)
		}
		worst, worstName := 0, ""
		for _, r := range sysRows {
			if r.rule != notifyPath && r.rule != notifyEmptyPath {
				continue
			}
			for _, ip := range []uint64{TrampolinePage + 0x1a, 0x7f3c12345678} {
				d := seccompData{Nr: int32(r.nr), Arch: auditArchX8664, IP: ip, Args: [6]uint64{fdcwd, 1, 2, 0}}
				if _, steps := runBPFSteps(t, prog, &d); steps > worst {
					worst, worstName = steps, r.name
				}
			}
		}
		// log2 of the table's ~80 numbers, two instructions a level,
		// plus the arch test, the argument and the pointer checks.
		if worst > 40 {
			t.Errorf("%s filter: %s runs %d instructions, want at most 40", name, worstName, worst)
		}
		t.Logf("%s filter: %d instructions, the most a path syscall runs (%s)", name, worst, worstName)
	}
}
