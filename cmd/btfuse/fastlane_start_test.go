package main

import (
	"os/exec"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// seccompCalls returns how many calls the daemon serving dir has been
// notified of over seccomp (door run), whatever their op and answer.
func seccompCalls(tb testing.TB, runtime, dir string) uint64 {
	tb.Helper()
	ops := statusOps(tb, runtime, dir)
	var n uint64
	for _, o := range ops {
		if o.Door == "run" {
			n += o.Served + o.Passthrough + o.Expected + o.Errors
		}
	}
	return n
}

// TestRunFastLaneStartNotifications: what the library costs a process
// that starts under 'btfuse run' in notifications. The loader's open of
// the library itself is one (nothing of the library runs yet); its
// constructor must add none: whatever it needs from the kernel it asks
// through the trampoline, or later, when a call needs it.
func TestRunFastLaneStartNotifications(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "true")
	truth, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	const starts = 5
	count := func(args ...string) uint64 {
		t.Helper()
		before := seccompCalls(t, runtime, dir)
		for range starts {
			if code, out, errOut := runIn(t, runtime, nil, withMount(dir, args)...); code != 0 {
				t.Fatalf("run %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
		return seccompCalls(t, runtime, dir) - before
	}
	seccomp := count("--no-fast-lane", "--", truth)
	fast := count(truth)
	if fast != seccomp+starts {
		t.Errorf("%d starts of %s: %d notifications with the library, %d without; want exactly one more each (the loader's open of the library)", starts, truth, fast, seccomp)
	}
}
