package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// childEnv selects what a re-executed test binary does instead of running
// tests: "posix" runs the suite in BTFUSE_E2E_DIR and writes the transcripts
// as JSON to stdout. The supervised door runs the binary the same way under
// `btfuse run`.
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
	}
	fmt.Fprintf(os.Stderr, "%s=%q: unknown mode\n", childEnv, mode)
	return 2
}

// runSuiteInChild runs the suite in dir in a child process started as
// prefix + this test binary, and returns its transcripts.
func runSuiteInChild(tb testing.TB, prefix []string, dir string) map[string]posixtest.Transcript {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatalf("executable: %v", err)
	}
	argv := append(append([]string(nil), prefix...), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"=posix", "BTFUSE_E2E_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("child %s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
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
