package supervisor

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// The real-program differential tests: the scripts of posixtest.Programs,
// run natively on a fresh kernel tmpfs and supervised in the mount, with
// the same environment; their outputs must be equal once the directory's
// path is written $D (it differs by construction).

// diffScript runs script with sh -ec in a fresh tmpfs and in s's mount,
// with D naming the directory and env added, and compares the outputs.
func diffScript(t *testing.T, s *supervised, script string, env ...string) {
	t.Helper()
	diffShell(t, s, "sh", script, env...)
}

// diffShell is diffScript with another shell.
func diffShell(t *testing.T, s *supervised, shell, script string, env ...string) {
	t.Helper()
	script = `cd "$D"` + "\n" + script
	ref := testutil.TmpfsDir(t)
	cmd := exec.Command(shell, "-ec", script)
	cmd.Env = append(append(os.Environ(), "D="+ref), env...)
	var stdout, stderr strings.Builder // kept apart, as s.run keeps them
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference run on tmpfs: %v\n%s%s", err, &stdout, &stderr)
	}
	want := stdout.String() + stderr.String()
	code, out, errs := s.run(t, []string{shell, "-ec", script}, append([]string{"D=" + s.mount}, env...)...)
	got := out + errs
	w := strings.ReplaceAll(want, ref, "$D")
	g := strings.ReplaceAll(got, s.mount, "$D")
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s", code, g)
	}
	if w != g {
		t.Errorf("outputs differ\n%s", outputDiff(w, g))
	}
}

// outputDiff is posixtest.Diff of two outputs, line by line: natively on
// tmpfs, and under run.
func outputDiff(want, got string) string {
	return posixtest.Diff("tmpfs", strings.Split(want, "\n"), "run", strings.Split(got, "\n"))
}

// program is the script of posixtest.Programs called name.
func program(t *testing.T, name string) posixtest.Program {
	t.Helper()
	p, ok := posixtest.ProgramByName(name)
	if !ok {
		t.Fatalf("no program %q in posixtest.Programs", name)
	}
	testutil.RequireProgram(t, append([]string{p.Shell}, p.Needs...)...)
	return p
}

func TestRunBashDifferential(t *testing.T) {
	p := program(t, "bash")
	for _, lane := range lanes {
		t.Run(lane, func(t *testing.T) {
			diffShell(t, withLane(t, startSupervised(t), lane), p.Shell, p.Script)
		})
	}
}

// TestRunProgramsDifferential runs the sh scripts of posixtest.Programs
// (bash and stdio_identity have tests of their own).
func TestRunProgramsDifferential(t *testing.T) {
	for _, p := range posixtest.Programs {
		if p.Name == "bash" || p.Name == "stdio_identity" {
			continue
		}
		for _, lane := range lanes {
			t.Run(p.Name+"/"+lane, func(t *testing.T) {
				p := program(t, p.Name)
				s := withLane(t, startSupervised(t), lane)
				diffShell(t, s, p.Shell, p.Script)
				if served, _, _, _ := s.sup.StatsSnapshot(); served == 0 {
					t.Errorf("nothing served")
				}
			})
		}
	}
}

func TestRunStdioIdentity(t *testing.T) {
	p := program(t, "stdio_identity")
	for _, lane := range lanes {
		t.Run(lane, func(t *testing.T) {
			diffShell(t, withLane(t, startSupervised(t), lane), p.Shell, p.Script)
		})
	}
}
