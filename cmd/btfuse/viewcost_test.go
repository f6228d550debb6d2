package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// What a stat the metadata view answers costs the process in syscalls:
// the view needs the working directory (getcwd) or the inode of a
// directory descriptor (statx), and the route asked the kernel for it
// already (fastlane/preload: struct fl_place); on this machine each
// syscall costs about what the whole answer from the view does.

// syscallCounts runs 'btfuse run --mount dir -- strace ... args' and returns
// how often the traced process tree made each of the syscalls in trace.
func syscallCounts(tb testing.TB, runtime, dir, trace string, args []string) (map[string]int, string) {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "strace.out")
	argv := append([]string{"strace", "-f", "-qq", "-e", "trace=" + trace, "-o", out}, args...)
	code, stdout, errOut := runIn(tb, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, argv)...)
	if code != 0 {
		tb.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	f, err := os.Open(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	got := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "PID name(args) = result", the PID padded to five columns
		_, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if name, _, ok := strings.Cut(strings.TrimSpace(rest), "("); ok {
			got[name]++
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return got, stdout
}

// TestRunViewPlacesOnce: a stat or an open of a name relative to the
// working directory makes one getcwd, and a stat relative to a directory
// descriptor on the mount one statx of it and no getpid, while the view
// answers them (before: two getcwd; two statx and a getpid).
func TestRunViewPlacesOnce(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "strace")
	probe := cHelper(t, "flprobe")
	dir, runtime, under := daemonWithFile(t, []byte("data"))
	const n = 200
	// slack: the process's own start-up and the probe's first stat.
	const slack = 8
	for _, tc := range []struct {
		mode string
		op   string         // the view's answers are counted as op@fast
		max  map[string]int // syscall -> most calls allowed
	}{
		{"statrel", "newfstatat", map[string]int{"getcwd": n + slack}},
		{"statatview", "newfstatat", map[string]int{"statx": n + slack, "getpid": slack}},
		{"openrel", "openat", map[string]int{"getcwd": n + slack}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			before := notified(t, runtime, dir, tc.op+"@fast")
			got, out := syscallCounts(t, runtime, dir, "getcwd,getpid,statx",
				[]string{probe, tc.mode, fmt.Sprint(n), under})
			if want := fmt.Sprintf("%s ok=%d errno=0 page=1\n", tc.mode, n); out != want {
				t.Fatalf("stdout %q, want %q", out, want)
			}
			// The fast lane answered them all (the view, after the
			// process's first calls).
			if fast := notified(t, runtime, dir, tc.op+"@fast") - before; fast < n {
				t.Errorf("%d of %d calls counted for door fast", fast, n)
			}
			t.Logf("%d calls: %v", n, got)
			for sys, most := range tc.max {
				if got[sys] > most {
					t.Errorf("%d calls made %d %s calls, want at most %d (all: %v)", n, got[sys], sys, most, got)
				}
			}
		})
	}
}

// TestRunViewBackingChanges: after each change that reaches a regular
// file's backing file without the daemon (a write through a reopen of
// /proc/self/fd/N, futimens and fchmod on a descriptor, a read that moves
// atime, a read through mmap of a hole that allocates a page, a fork
// child's write) and after truncate and utimensat, a stat through the
// fast lane answers the backing file's size, blocks and times, as the
// FUSE door's getattr does (flbacking). This is what keeps those
// attributes out of the metadata view (fastlane's package comment).
func TestRunViewBackingChanges(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flbacking")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	before := notified(t, runtime, dir, "newfstatat@fast")
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, filepath.Join(dir, "f")})...)
	steps := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(steps) != 9 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
	}
	for _, s := range steps {
		if !strings.HasSuffix(s, " ok") {
			t.Errorf("%s", s)
		}
	}
	// The library answered them (view or channel), not the seccomp lane.
	if fast := notified(t, runtime, dir, "newfstatat@fast") - before; fast < uint64(len(steps)) {
		t.Errorf("%d of %d stats counted for door fast", fast, len(steps))
	}
}
