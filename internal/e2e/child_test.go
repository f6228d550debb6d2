package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// childEnv selects what a re-executed test binary does instead of running
// tests; the supervised door runs the binary the same way under `btfuse
// run`. Modes:
//
//   - "posix": run the suite in BTFUSE_E2E_DIR; write the transcripts as a
//     JSON object (case name -> Transcript) to stdout.
//   - "random": run the sequence of seed BTFUSE_RANDOM_SEEDS (one seed) and
//     length BTFUSE_RANDOM_OPS in lockstep on BTFUSE_E2E_REF and
//     BTFUSE_E2E_DIR; write the mismatch, if any, to stdout and exit 1.
const childEnv = "BTFUSE_E2E_CHILD"

func childMain(mode string) int {
	switch mode {
	case "posix":
		dir := os.Getenv("BTFUSE_E2E_DIR")
		out := map[string]posixtest.Transcript{}
		for _, c := range posixtest.Cases {
			out[c.Name] = posixtest.RunCase(c, dir)
		}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "random":
		seed, err1 := strconv.ParseUint(os.Getenv("BTFUSE_RANDOM_SEEDS"), 10, 64)
		n, err2 := strconv.Atoi(os.Getenv("BTFUSE_RANDOM_OPS"))
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		err := posixtest.RunLockstep(posixtest.Generate(seed, n), os.Getenv("BTFUSE_E2E_REF"), os.Getenv("BTFUSE_E2E_DIR"))
		if err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s=%q: unknown mode\n", childEnv, mode)
	return 2
}

// childCommand is this test binary, run after prefix (a supervisor, or
// nothing) with env added to the environment.
func childCommand(tb testing.TB, prefix []string, env ...string) *exec.Cmd {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatalf("executable: %v", err)
	}
	argv := append(append([]string(nil), prefix...), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// runSuiteInChild runs the suite in dir in a child process started as
// prefix + this test binary, and returns its transcripts.
func runSuiteInChild(tb testing.TB, prefix []string, dir string) map[string]posixtest.Transcript {
	tb.Helper()
	cmd := childCommand(tb, prefix, childEnv+"=posix", "BTFUSE_E2E_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("child %s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	var out map[string]posixtest.Transcript
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		tb.Fatalf("child output: %v", err)
	}
	return out
}

// TestPosixInChild runs the suite on btfuse from a child process, the way
// the supervised door will, against the reference run in this process.
func TestPosixInChild(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	tg := targets()[0]
	ref, got := referenceDir(t), tg.mount(t)
	child := runSuiteInChild(t, nil, got)
	for _, c := range posixtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tr, ok := child[c.Name]
			if !ok {
				t.Fatalf("the child did not run %s", c.Name)
			}
			compareTranscripts(t, tg.name+" (child)", posixtest.RunCase(c, ref), tr)
		})
	}
}

// TestRandomInChild runs one random sequence in lockstep from a child
// process, the way the supervised door will.
func TestRandomInChild(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	tg := targets()[0]
	dirs := mkdirs(t, "child", referenceDir(t), tg.mount(t))
	cmd := childCommand(t, nil, childEnv+"=random", "BTFUSE_RANDOM_SEEDS=99", "BTFUSE_RANDOM_OPS=3000",
		"BTFUSE_E2E_REF="+dirs[0], "BTFUSE_E2E_DIR="+dirs[1])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("seed 99 in a child on %s: %v\n%s", tg.name, err, out)
	}
}
