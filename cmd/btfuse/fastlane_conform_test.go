package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// The conformance suite, the randomized differential test and the
// real-program scripts through the fast lane: internal/posixtest/libcsys/child
// runs the first two through libc's functions (the Go tests of the other
// lanes make bare syscalls, which the library never sees), natively on a
// kernel tmpfs for the reference and under 'btfuse run' with the library
// (TestMain's BTFUSE_FAST_LIBRARY); the scripts run real programs the same
// two ways. Each run must then show answers of door fast (for the suite and
// the sequences: for every call class the channel serves, laneClasses), so
// a lane that silently stops answering turns these tests red instead of
// passing on the seccomp lane.

// laneClasses are the call classes the fast lane's channel answers, each
// with the status --json keys (op@fast) that count its answers. When the
// channel learns another class, add a row: the tests below then fail
// unless that class really takes the lane. random says whether the random
// sequences make such calls (statx: only the conformance cases do).
var laneClasses = []struct {
	class  string
	ops    []string
	random bool
}{
	{"stat, lstat", []string{"newfstatat@fast"}, true},
	{"statx", []string{"statx@fast"}, false},
	{"access", []string{"faccessat2@fast"}, true},
	{"readlink", []string{"readlinkat@fast"}, true},
	{"open", []string{"openat@fast"}, true},
	{"fstat of a lane descriptor", []string{"fstat@fast"}, true},
	{"mkdir", []string{"mkdirat@fast"}, true},
	{"unlink, rmdir", []string{"unlinkat@fast"}, true},
	{"rename", []string{"renameat2@fast"}, true},
}

// fromFirstCall is the environment under which every process takes the
// lane from its first call under the mount: by default it passes its first
// BTFUSE_FAST_AFTER calls to the seccomp lane (a handshake costs more than
// a short-lived program saves), which would leave the first steps of a
// sequence and most short-lived processes of a script off the lane.
var fromFirstCall = []string{"BTFUSE_FAST_AFTER=0"}

// fastKnownDiffs are the conformance cases where the fast lane still
// differs from tmpfs, with why; their differences are logged, not failed.
// Remove an entry when its case passes.
var fastKnownDiffs = map[string]string{}

// fastProgramKnownDiffs are the scripts of posixtest.Programs whose output
// through the fast lane still differs from tmpfs, with why; logged, not
// failed, until the cause is fixed.
var fastProgramKnownDiffs = map[string]string{}

// posixChild builds the libc-backed posixtest child into a temporary
// directory and checks that it is dynamically linked (an ELF interpreter):
// a static binary would never load the library.
func posixChild(tb testing.TB) string {
	tb.Helper()
	testutil.RequireProgram(tb, "go", "gcc")
	bin := filepath.Join(tb.TempDir(), "posixchild")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/btfuse/btfuse/internal/posixtest/libcsys/child")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build the posixtest child: %v\n%s", err, out)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		tb.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return bin
		}
	}
	tb.Fatalf("%s has no ELF interpreter: not linked against libc", bin)
	return ""
}

// laneCounts reads the answers (served, expected errnos and errors; not
// passthrough, which means the channel left the call to the seccomp
// lane) by status --json key of the daemon serving dir.
func laneCounts(tb testing.TB, runtime, dir string) map[string]uint64 {
	tb.Helper()
	ops := statusOps(tb, runtime, dir)
	m := map[string]uint64{}
	for k, o := range ops {
		m[k] = o.Served + o.Expected + o.Errors
	}
	return m
}

// checkLaneClasses fails tb for every class (of the random sequences
// only, when random) with no answer of door fast between before and
// after, and logs the counts.
func checkLaneClasses(tb testing.TB, before, after map[string]uint64, random bool) {
	tb.Helper()
	var counts []string
	for _, c := range laneClasses {
		var n uint64
		for _, op := range c.ops {
			n += after[op] - before[op]
		}
		counts = append(counts, fmt.Sprintf("%s %d", c.class, n))
		if n == 0 && (c.random || !random) {
			tb.Errorf("no %s call took the fast lane (status keys %v show no new answers)", c.class, c.ops)
		}
	}
	tb.Logf("answered by the fast lane: %s", strings.Join(counts, ", "))
}

// ringHasFastEvent reports whether 'btfuse trace --backlog' shows an
// event of door fast within 10 seconds.
func ringHasFastEvent(tb testing.TB, runtime, dir string) bool {
	tb.Helper()
	tr := btfuse(runtime, "trace", dir, "--backlog", "--json")
	out, err := tr.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() {
		tr.Process.Signal(syscall.SIGINT)
		tr.Wait()
	}()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() { // drained to the end: trace must not block on a full pipe
			var ev struct{ Door string }
			if !sent && json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Door == "fast" {
				found <- true
				sent = true
			}
		}
		if !sent {
			found <- false
		}
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(10 * time.Second):
		return false
	}
}

// conformDirs mounts btfuse (its daemon started) and a kernel tmpfs for the
// reference, both reachable by the users the cases switch to.
func conformDirs(t *testing.T) (ref, dir, runtime string) {
	t.Helper()
	testutil.RequirePrivileged(t)
	ref = testutil.TmpfsDir(t)
	dir, runtime = mountDirs(t)
	// The test's temporary directory holds both: 0700 by default.
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(ref) != filepath.Dir(filepath.Dir(dir)) {
		t.Fatalf("the reference %s and the mount %s are not in one test directory", ref, dir)
	}
	// Other users reach a FUSE mount only with allow_other: without it
	// the kernel refuses them, and so does every lane.
	startDaemon(t, runtime, dir, "--allow-other")
	return ref, dir, runtime
}

// TestRunFastLaneConformance runs every conformance case through libc
// under 'btfuse run' with the fast lane, and natively on tmpfs, and
// compares the transcripts case by case.
func TestRunFastLaneConformance(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	child := posixChild(t)
	ref, dir, runtime := conformDirs(t)
	wantJSON, err := exec.Command(child, "cases", ref).Output()
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	before := laneCounts(t, runtime, dir)
	code, gotJSON, errOut := runIn(t, runtime, fromFirstCall, "--mount", dir, "--", child, "cases", dir)
	if code != 0 {
		t.Fatalf("btfuse run: exit %d\n%s", code, errOut)
	}
	checkLaneClasses(t, before, laneCounts(t, runtime, dir), false)
	if !ringHasFastEvent(t, runtime, dir) {
		t.Errorf("btfuse trace --backlog shows no event of door fast")
	}
	var want, got map[string]posixtest.Transcript
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(gotJSON), &got); err != nil {
		t.Fatalf("%v: %q", err, gotJSON)
	}
	for _, c := range posixtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			posixtest.Compare(t, "fast", want[c.Name], got[c.Name], fastKnownDiffs[c.Name])
		})
	}
}

// TestRunFastLaneRandom runs seeded random sequences through libc in
// lockstep on tmpfs (outside the mount: the library's trampoline) and in
// the mount (the channel) from one process under 'btfuse run' with the
// fast lane, results compared step by step and the trees every 500 steps.
// The first two seeds run again inside a private mount namespace (unshare
// -m), where the lane must step aside and the kernel give tmpfs's answers. BTFUSE_RANDOM_SEEDS /
// BTFUSE_RANDOM_OPS reproduce a failure.
func TestRunFastLaneRandom(t *testing.T) {
	sysctltest.Shared(t)
	seeds, n, err := posixtest.RandomConfig([]uint64{1, 2, 3, 4, 5, 6, 7, 8}, 3000)
	if err != nil {
		t.Fatal(err)
	}
	child := posixChild(t)
	ref, dir, runtime := conformDirs(t)
	// lockstep runs seeds in ref/sub and dir/sub from one process, started
	// by wrap, and checks the results.
	lockstep := func(t *testing.T, sub string, wrap []string, seeds []uint64) {
		r, d := filepath.Join(ref, sub), filepath.Join(dir, sub)
		for _, p := range []string{r, d} {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		args := append(append([]string{"--mount", dir, "--"}, wrap...), child, "lockstep", fmt.Sprint(n), "500", r, d)
		for _, s := range seeds {
			args = append(args, fmt.Sprint(s))
		}
		code, out, errOut := runIn(t, runtime, fromFirstCall, args...)
		if code != 0 {
			t.Fatalf("btfuse run: exit %d\n%s%s", code, out, errOut)
		}
		var res map[string]string
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		for _, s := range seeds {
			if msg, ok := res[fmt.Sprint(s)]; !ok || msg != "" {
				t.Errorf("seed %d (rerun: BTFUSE_RANDOM_SEEDS=%d BTFUSE_RANDOM_OPS=%d go test -run TestRunFastLaneRandom ./cmd/btfuse): %s",
					s, s, n, msg)
			}
		}
	}
	t.Run("lane", func(t *testing.T) {
		before := laneCounts(t, runtime, dir)
		lockstep(t, "lane", nil, seeds)
		checkLaneClasses(t, before, laneCounts(t, runtime, dir), true)
	})
	t.Run("unshare-m", func(t *testing.T) {
		testutil.RequireProgram(t, "unshare")
		before := laneCounts(t, runtime, dir)
		lockstep(t, "unshare", []string{"unshare", "-m", "--propagation", "slave"}, seeds[:min(2, len(seeds))])
		// Another mount namespace may see other mounts at those paths:
		// the lane steps aside, as the seccomp lane does.
		after := laneCounts(t, runtime, dir)
		for k, n := range after {
			if strings.HasSuffix(k, "@fast") && n != before[k] {
				t.Errorf("the fast lane answered %d %s calls in another mount namespace", n-before[k], strings.TrimSuffix(k, "@fast"))
			}
		}
	})
}

// TestRunFastLanePrograms runs the real-program scripts of
// posixtest.Programs (coreutils, the shells' redirections, tar, git,
// python3, sqlite3, gcc) natively on tmpfs and under 'btfuse run' with the
// fast lane in the mount, compares their outputs (the directory's path
// written $D), and requires that the lane answered some of each script's
// calls: one that silently stopped answering would leave them passing on
// the seccomp lane. Every process takes the lane from its first call under
// the mount (fromFirstCall), so that the many short-lived processes of a
// script (cat, stat, wc) are tested on the lane too.
func TestRunFastLanePrograms(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	for _, p := range posixtest.Programs {
		t.Run(p.Name, func(t *testing.T) {
			testutil.RequireProgram(t, append([]string{p.Shell}, p.Needs...)...)
			script := `cd "$D"` + "\n" + p.Script
			ref := testutil.TmpfsDir(t)
			cmd := exec.Command(p.Shell, "-ec", script)
			cmd.Env = append(os.Environ(), "D="+ref)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("reference run on tmpfs: %v\n%s%s", err, &stdout, &stderr)
			}
			want := strings.ReplaceAll(stdout.String()+stderr.String(), ref, "$D")
			d := filepath.Join(dir, p.Name)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			before := laneCounts(t, runtime, dir)
			code, out, errOut := runIn(t, runtime, append([]string{"D=" + d}, fromFirstCall...), "--mount", dir, "--", p.Shell, "-ec", script)
			got := strings.ReplaceAll(out+errOut, d, "$D")
			if code != 0 {
				t.Fatalf("btfuse run: exit %d\n%s", code, got)
			}
			report, done := posixtest.KnownDiff(t, fastProgramKnownDiffs[p.Name])
			if want != got {
				report("outputs differ\n%s", posixtest.Diff("tmpfs", strings.Split(want, "\n"), "fast", strings.Split(got, "\n")))
			}
			done(want != got)
			after := laneCounts(t, runtime, dir)
			var answered []string
			for k, n := range after {
				if strings.HasSuffix(k, "@fast") && n > before[k] {
					answered = append(answered, fmt.Sprintf("%s %d", k, n-before[k]))
				}
			}
			sort.Strings(answered)
			if len(answered) == 0 {
				t.Errorf("the fast lane answered none of the script's calls")
			}
			t.Logf("answered by the fast lane: %s", strings.Join(answered, ", "))
		})
	}
}
