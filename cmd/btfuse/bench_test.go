package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/benchsuite"
	"github.com/btfuse/btfuse/internal/testutil"
)

func TestBenchFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "stat,nope"}, `unknown workload "nope"`},
		{[]string{"--only", ","}, "names no workload"},
		{[]string{"--plot", "b.png"}, "must end in .svg"},
		{[]string{"--rounds", "-1"}, "want a positive number"},
		{[]string{"--from", "x.json", "--quick"}, "do not apply"},
		{[]string{"stray"}, "unknown command"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := NewCmdRoot()
			cmd.SetArgs(append([]string{"bench"}, tc.args...))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench %v: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}

// benchRun is one 'btfuse bench' process started by a test.
type benchRun struct {
	code           int
	stdout, stderr string
	tmp, runtime   string
}

// runBench runs 'btfuse bench args' with its temporary directories (and so
// its mounts) under a directory of the test's own and a private registry.
// Whatever happens, the cleanup kills what is left of it and detaches every
// mount under that directory (a daemon whose mount goes exits by itself).
func runBench(t *testing.T, env []string, args ...string) benchRun {
	t.Helper()
	base := t.TempDir()
	r := benchRun{tmp: filepath.Join(base, "tmp"), runtime: filepath.Join(base, "run")}
	if err := os.Mkdir(r.tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := btfuse(r.runtime, append([]string{"bench"}, args...)...)
	cmd.Env = append(append(cmd.Env, "TMPDIR="+r.tmp), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, m := range mountsUnder(t, r.tmp) {
			t.Errorf("bench left %s mounted; detaching it", m)
			unix.Unmount(m, unix.MNT_DETACH)
		}
	})
	// A hang guard, not a timing assertion: --quick is meant to take well
	// under a minute for two workloads.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	stop()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("btfuse bench: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("btfuse bench %v did not finish in 4 minutes; stderr:\n%s", args, e.String())
	}
	r.stdout, r.stderr = o.String(), e.String()
	return r
}

// mountsUnder lists the mount points under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// tableRow returns the cells of the table row whose first cell is name.
func tableRow(out, name string) []string {
	for _, line := range strings.Split(out, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.HasPrefix(line, "|") && cells[0] == name {
			return cells
		}
	}
	return nil
}

func TestE2EBenchQuick(t *testing.T) {
	testutil.RequirePrivileged(t)
	out := t.TempDir()
	jsonPath, plotPath := filepath.Join(out, "b.json"), filepath.Join(out, "b.svg")
	r := runBench(t, nil, "--quick", "--only", "stat,cat", "--json", jsonPath, "--plot", plotPath)
	if r.code != 0 {
		t.Fatalf("btfuse bench: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// The table: every mode measured for each row, ratios computed. The
	// four modes: TestMain names the fast lane's library.
	for _, name := range []string{"stat", "cat", "cat (whole command)"} {
		cells := tableRow(r.stdout, name)
		if len(cells) != 10 {
			t.Errorf("no table row %q with 10 cells in:\n%s", name, r.stdout)
			continue
		}
		for i, c := range cells[2:] {
			if c == "-" || c == "" {
				t.Errorf("row %q: column %d empty: %q", name, i+2, cells)
			}
		}
	}
	if !strings.Contains(r.stderr, "bench: 40 samples in") {
		t.Errorf("stderr does not report the progress of 40 samples:\n%s", r.stderr)
	}

	// The JSON: 5 rounds x 4 modes of each workload, times positive.
	var rep struct {
		Quick     bool
		Workloads []struct {
			Name    string
			Error   string
			Samples []struct {
				Round  int
				Mode   string
				NS     float64 `json:"ns"`
				WallNS int64   `json:"wall_ns"`
			}
		}
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("--json: %v", err)
	}
	if !rep.Quick || len(rep.Workloads) != 2 {
		t.Fatalf("--json holds %d workloads (quick %v), want stat and cat", len(rep.Workloads), rep.Quick)
	}
	for _, w := range rep.Workloads {
		perMode := map[string]int{}
		for _, s := range w.Samples {
			perMode[s.Mode]++
			if s.NS <= 0 || s.WallNS <= 0 || float64(s.WallNS) < s.NS {
				t.Errorf("%s: implausible sample %+v", w.Name, s)
			}
		}
		if w.Error != "" || perMode["native"] != 5 || perMode["fuse"] != 5 || perMode["run"] != 5 || perMode["fast"] != 5 {
			t.Errorf("%s: error %q, samples per mode %v; want 5 each", w.Name, w.Error, perMode)
		}
	}

	// The plot: well-formed SVG naming each row.
	svg, err := os.ReadFile(plotPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("--plot is not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(cd))
		}
	}
	all := strings.Join(texts, "\n")
	for _, label := range []string{"stat [op]", "cat [cat]", "cat [whole command]", "native", "fuse", "run"} {
		if !strings.Contains(all, label) {
			t.Errorf("the plot has no text %q", label)
		}
	}
	if n, _ := os.ReadDir(r.runtime); len(n) != 0 {
		t.Errorf("the bench's daemon is still registered: %v", n)
	}
	if n, _ := os.ReadDir(r.tmp); len(n) != 0 {
		t.Errorf("the bench left %v in its temporary directory", n)
	}
}

// TestE2EBenchMissingProgram runs the bench with a PATH that has bash but
// no git: git fails with a message saying so, stat still runs, and the
// exit status says that something failed.
func TestE2EBenchMissingProgram(t *testing.T) {
	testutil.RequirePrivileged(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		testutil.SkipOrFail(t, "needs bash")
	}
	bin := t.TempDir()
	if err := os.Symlink(bash, filepath.Join(bin, "bash")); err != nil {
		t.Fatal(err)
	}
	r := runBench(t, []string{"PATH=" + bin}, "--quick", "--rounds", "1", "--only", "stat,git")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 for a failed workload", r.code)
	}
	if cells := tableRow(r.stdout, "stat"); len(cells) != 10 || cells[4] == "-" || cells[5] == "-" {
		t.Errorf("stat did not run beside the failed git: %q\n%s", cells, r.stdout)
	}
	if cells := tableRow(r.stdout, "git FAILED"); cells == nil {
		t.Errorf("git not marked failed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "git failed: git not found in PATH") {
		t.Errorf("the table does not say why git failed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "1 of 2 workloads failed (git)") {
		t.Errorf("stderr does not sum up the failure: %s", r.stderr)
	}
}

// TestBenchElapsedOnePhrasing: the bench states its own durations one way
// (benchsuite.FormatElapsed, "3m33s"): the table's header said "213s"
// while the progress said "3m33s left" and the end "in 3m33s".
func TestBenchElapsedOnePhrasing(t *testing.T) {
	rep := &benchsuite.Report{Elapsed: 213.4, Rounds: 5, Modes: benchsuite.Modes, Programs: map[string]string{}}
	p := filepath.Join(t.TempDir(), "b.json")
	if err := rep.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBtfuse(t, filepath.Join(t.TempDir(), "run"), "bench", "--from", p)
	if code != 0 || !strings.Contains(out, "(full, 5 rounds in 3m33s)") {
		t.Errorf("bench --from: exit %d, stdout %q, stderr %q; want the header to say 5 rounds in 3m33s", code, out, errOut)
	}
	if got := benchsuite.FormatElapsed(213400 * time.Millisecond); got != "3m33s" {
		t.Errorf("FormatElapsed = %q", got)
	}
}
