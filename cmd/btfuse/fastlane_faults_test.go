package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btfuse/btfuse/internal/testutil"
)

// faultRule fails every call on a path with a component starting with
// "faulty", inside the mount or outside it, of the test program only (the
// test itself makes the trees through the FUSE door).
const faultRule = "all:error=EREMOTEIO:path=faulty**:comm=flfaults"

// faultTree makes faulty/ and fine/, each with a file f and a symlink l
// to it, under dir.
func faultTree(tb testing.TB, dir string) {
	tb.Helper()
	for _, d := range []string{"faulty", "fine"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "f"), []byte("data"), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.Symlink("f", filepath.Join(p, "l")); err != nil && !os.IsExist(err) {
			tb.Fatal(err)
		}
	}
}

// faultRuns runs fastlane/testdata/flfaults against the mount dir (and a
// fresh outside directory) on the fast lane and on the seccomp lane, with
// the extra 'btfuse run' flags, and returns both transcripts.
func faultRuns(t *testing.T, runtime, dir, helper string, flags ...string) (fast, seccomp string) {
	t.Helper()
	for i, lane := range [][]string{nil, {"--no-fast-lane"}} {
		outside := t.TempDir()
		faultTree(t, outside)
		for _, sub := range []string{"faulty", "fine"} {
			os.RemoveAll(filepath.Join(dir, sub, "d0"))
		}
		args := append(append(append([]string{}, flags...), lane...), "--", helper, dir, outside)
		code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, args)...)
		if code != 0 {
			t.Fatalf("run %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if i == 0 {
			fast = out
		} else {
			seccomp = out
		}
	}
	return fast, seccomp
}

// wantFaults checks that the rule fired on every call of the transcript
// on a faulty path and on none on a fine one.
func wantFaults(t *testing.T, out string, live bool) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasSuffix(l, " end") {
			continue
		}
		faulty := strings.Contains(l, "/faulty ")
		if got := strings.HasSuffix(l, "EREMOTEIO"); got != (faulty && live) {
			t.Errorf("rule live %v: %q", live, l)
		}
	}
}

// TestRunFastLaneFaults: a fault rule on a path fires for a program on
// the fast lane exactly as on the seccomp lane, for every call class the
// lane answers in the process (the metadata view) or sends to the kernel
// from its trampoline (directory opens, chdir, calls relative to a
// directory descriptor, utimes, paths outside the mount): rules given to
// 'btfuse mount --inject', added live with 'btfuse inject add' (to
// programs started after it, and to one already running), and given to
// 'btfuse run --inject'. After 'btfuse inject clear' the lane answers
// again.
func TestRunFastLaneFaults(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flfaults")

	t.Run("mount", func(t *testing.T) {
		dir, runtime := mountDirs(t)
		startDaemon(t, runtime, dir, "--inject", faultRule)
		faultTree(t, dir)
		fast, seccomp := faultRuns(t, runtime, dir, helper)
		if d := lineDiff(seccomp, fast); d != "" {
			t.Errorf("fast lane differs from the seccomp lane (-seccomp +fast):\n%s", d)
		}
		wantFaults(t, seccomp, true)
	})

	t.Run("run", func(t *testing.T) {
		dir, runtime := mountDirs(t)
		startDaemon(t, runtime, dir)
		faultTree(t, dir)
		fast, seccomp := faultRuns(t, runtime, dir, helper, "--inject", faultRule)
		if d := lineDiff(seccomp, fast); d != "" {
			t.Errorf("fast lane differs from the seccomp lane (-seccomp +fast):\n%s", d)
		}
		wantFaults(t, seccomp, true)
	})

	t.Run("live", func(t *testing.T) {
		dir, runtime := mountDirs(t)
		startDaemon(t, runtime, dir)
		faultTree(t, dir)
		inject := func(args ...string) {
			t.Helper()
			if code, _, errOut := runBtfuse(t, runtime, append([]string{"inject", dir}, args...)...); code != 0 {
				t.Fatalf("inject %v: exit %d: %s", args, code, errOut)
			}
		}
		inject("add", faultRule)
		fast, seccomp := faultRuns(t, runtime, dir, helper)
		if d := lineDiff(seccomp, fast); d != "" {
			t.Errorf("fast lane differs from the seccomp lane (-seccomp +fast):\n%s", d)
		}
		wantFaults(t, seccomp, true)

		// A program already on the lane when the rule comes.
		inject("clear")
		outside := t.TempDir()
		faultTree(t, outside)
		for _, sub := range []string{"faulty", "fine"} {
			os.RemoveAll(filepath.Join(dir, sub, "d0"))
		}
		prog := btfuse(runtime, append([]string{"run"}, withMount(dir, []string{helper, dir, outside, "wait"})...)...)
		prog.Env = append(prog.Env, "BTFUSE_FAST_AFTER=0")
		in, err := prog.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		outPipe, err := prog.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut testutil.SyncBuffer
		prog.Stderr = &errOut
		if err := prog.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { prog.Process.Kill(); prog.Wait() })
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(outPipe)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		read := func() string {
			var b strings.Builder
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("program ended early; stderr %s", errOut.String())
					}
					b.WriteString(l + "\n")
					if strings.HasSuffix(l, " end") {
						return b.String()
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("program silent; stderr %s", errOut.String())
				}
			}
		}
		before := read()
		wantFaults(t, before, false)
		inject("add", faultRule)
		io.WriteString(in, "go\n")
		after := read()
		in.Close()
		if err := prog.Wait(); err != nil {
			t.Fatalf("program: %v; stderr %s", err, errOut.String())
		}
		// The second round's lines start with its number, 1.
		round0 := strings.TrimPrefix(strings.ReplaceAll("\n"+after, "\n1 ", "\n0 "), "\n")
		if d := lineDiff(seccomp, round0); d != "" {
			t.Errorf("a running program after the rule came differs from the seccomp lane (-seccomp +fast):\n%s", d)
		}

		// Cleared: the lane answers again, faults no more.
		inject("clear")
		beforeFast := notified(t, runtime, dir, "newfstatat@fast")
		fast, _ = faultRuns(t, runtime, dir, helper)
		wantFaults(t, fast, false)
		if got := notified(t, runtime, dir, "newfstatat@fast") - beforeFast; got < 4 {
			t.Errorf("after clear: %d stats answered by door fast, want the lane back", got)
		}
	})
}
