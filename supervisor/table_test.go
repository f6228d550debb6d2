package supervisor

import (
	"testing"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// Each row's name is the kernel's name of its number, as libseccomp (and
// strace) know it.
func TestSyscallTableNames(t *testing.T) {
	for _, r := range sysRows {
		nr, err := seccomp.GetSyscallFromName(r.name)
		if err != nil || int32(nr) != r.nr {
			t.Errorf("row %d %q: libseccomp has %q as %d (%v)", r.nr, r.name, r.name, nr, err)
		}
	}
}

// notifiedByFilter runs the filter on every x86-64 syscall number below
// 512 with argument patterns that reach each kind of rule (standard,
// low, reserved and AT_FDCWD descriptors; flags with and without
// AT_EMPTY_PATH), and returns the numbers it notifies for some pattern.
func notifiedByFilter(t *testing.T) map[int32]bool { return notifiedBy(t, BuildFilter) }

func notifiedBy(t *testing.T, build func(int) ([]unix.SockFilter, error)) map[int32]bool {
	const base = 768
	prog, err := build(base)
	if err != nil {
		t.Fatal(err)
	}
	notified := map[int32]bool{}
	for nr := int32(0); nr < 512; nr++ {
		for _, fd := range []uint64{0, 2, 3, base, base + 255, 0xffffffffffffff9c} {
			for _, flags := range []uint64{0, unix.AT_EMPTY_PATH} {
				d := seccompData{Nr: nr, Arch: auditArchX8664, Args: [6]uint64{fd, flags, flags, flags, flags, flags}}
				if runBPF(t, prog, &d) == retNotify {
					notified[nr] = true
				}
			}
		}
	}
	return notified
}

// Every syscall the filter notifies has an op of its own, named as the
// syscall, so that status, trace and the metrics name it (never
// "syscall"); and every row of the table is notified (the data rows by a
// filter built for rules naming them).
func TestNotifiedSyscallsNamed(t *testing.T) {
	var data []string
	for _, r := range sysRows {
		if r.rule == notifyData {
			data = append(data, r.name)
		}
	}
	build, err := FilterFor(append(data, "ftruncate"))
	if err != nil {
		t.Fatal(err)
	}
	notified := notifiedBy(t, build)
	names := map[string]int32{}
	for nr := range notified {
		want, err := seccomp.ScmpSyscall(nr).GetName()
		if err != nil {
			t.Fatalf("syscall %d: %v", nr, err)
		}
		op := opOf(nr)
		if op == event.OpSyscall || op.String() != want {
			t.Errorf("notified syscall %d (%s) is reported as op %d %q", nr, want, op, op)
		}
		if other, dup := names[op.String()]; dup {
			t.Errorf("syscalls %d and %d share the op name %q", other, nr, op)
		}
		names[op.String()] = nr
	}
	for _, r := range sysRows {
		if !notified[r.nr] {
			t.Errorf("row %s (%d) is never notified", r.name, r.nr)
		}
	}
}

// A row without a handler is CONTINUEd, so that under the mount the kernel
// serves it through the FUSE door; a credential row is CONTINUEd too, after
// the credential cache forgot what it knew.
func TestHandlerlessRowsContinue(t *testing.T) {
	var handlerless []string
	for _, r := range sysRows {
		s := &Supervisor{}
		c := &call{s: s, l: &listener{}}
		c.reset(&notif{ID: 1, Pid: 1, Data: seccompData{Nr: r.nr, Arch: auditArchX8664}})
		switch {
		case r.rule == notifyCred:
			gen := s.creds.gen.Load()
			if got := answer(c); !got.cont {
				t.Errorf("credential row %s answered %+v, want CONTINUE", r.name, got)
			}
			if s.creds.gen.Load() == gen {
				t.Errorf("credential row %s left the credential cache as it was", r.name)
			}
			if view := c.l.kernelOnly.Load(); view != (r.name == "chroot" || r.name == "pivot_root" ||
				r.name == "unshare" || r.name == "setns" || r.name == "landlock_restrict_self") {
				t.Errorf("row %s: listener left to the kernel = %v", r.name, view)
			}
		case r.handle == nil:
			handlerless = append(handlerless, r.name)
			if got := answer(c); got != cont() {
				t.Errorf("row %s without a handler answered %+v, want CONTINUE", r.name, got)
			}
		}
	}
	for _, want := range []string{"chdir", "utimes", "utime"} {
		found := false
		for _, n := range handlerless {
			found = found || n == want
		}
		if !found {
			t.Errorf("%s has a handler now: pick another handler-less example for this test", want)
		}
	}
}

// A notification of another architecture is refused, whatever its number.
func TestAnswerOtherArch(t *testing.T) {
	c := &call{s: &Supervisor{}}
	c.reset(&notif{Data: seccompData{Nr: unix.SYS_OPENAT, Arch: auditArchI386}})
	if got := answer(c); got != fail(unix.ENOSYS) {
		t.Errorf("i386 notification answered %+v, want ENOSYS", got)
	}
}

// TestExpectedErrnosRows: every syscall given expected errnos is a row of
// the table, and its op classifies them as expected.
func TestExpectedErrnosRows(t *testing.T) {
	for nr, es := range expectedErrnos {
		r := rowOf(nr)
		if r == nil {
			t.Errorf("syscall %d has expected errnos but no row in syscallTable", nr)
			continue
		}
		for _, e := range es {
			if event.Classify(r.op, e) != event.Expected {
				t.Errorf("%s: %s not classified as expected", r.name, unix.ErrnoName(e))
			}
		}
	}
	if r := rowOf(unix.SYS_UNLINK); r == nil || event.Classify(r.op, unix.ENOENT) != event.Error {
		t.Errorf("unlink's ENOENT is a failure, not expected")
	}
}

// A filter for fault rules naming write and ftruncate notifies them for
// every descriptor (the shell's dup2()ed fd 1 included) and nothing more:
// read, pread64 and the rest stay native, allowed by the kernel's action
// cache without running the program.
func TestFilterForData(t *testing.T) {
	build, err := FilterFor([]string{"write", "ftruncate"})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := build(768)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range []uint64{0, 1, 5, 200, 768} {
		for _, nr := range []int32{unix.SYS_WRITE, unix.SYS_FTRUNCATE} {
			d := seccompData{Nr: nr, Arch: auditArchX8664, Args: [6]uint64{fd}}
			if runBPF(t, prog, &d) != retNotify {
				t.Errorf("syscall %d on fd %d not notified", nr, fd)
			}
		}
	}
	for _, nr := range []int32{unix.SYS_READ, unix.SYS_PREAD64, unix.SYS_WRITEV, unix.SYS_LSEEK} {
		if !constAllow(prog, auditArchX8664, nr) {
			t.Errorf("syscall %d is not allowed by the action cache", nr)
		}
	}
	if _, err := FilterFor([]string{"openat"}); err == nil {
		t.Errorf("FilterFor accepted a path syscall as data")
	}
}
