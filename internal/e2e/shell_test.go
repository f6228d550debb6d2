package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// shellScript is run with bash, its working directory being the directory
// under test; its output must be byte-identical on tmpfs and btfuse.
const shellScript = "../../testdata/shell_session.sh"

// runShellSession runs the session in a fresh directory under root and
// returns what it printed (stdout and stderr apart) and its exit status.
func runShellSession(tb testing.TB, dir string) (stdout, stderr string, status int) {
	tb.Helper()
	script, err := filepath.Abs(shellScript)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else {
			tb.Fatalf("run %s: %v", script, err)
		}
	}
	return out.String(), errOut.String(), status
}

// TestShellSession runs testdata/shell_session.sh on tmpfs and on each
// target and diffs the output.
func TestShellSession(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	for _, path := range []string{"bash", "python3"} {
		if _, err := exec.LookPath(path); err != nil {
			t.Fatalf("the shell session needs %s: %v", path, err)
		}
	}
	ref := referenceDir(t)
	wantOut, wantErr, wantStatus := runShellSession(t, mkdirs(t, "session", ref)[0])
	if wantErr != "" {
		t.Errorf("the session wrote to stderr on tmpfs (send it to stdout with 2>&1):\n%s", wantErr)
	}
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			dir := mkdirs(t, "session", tg.mount(t))[0]
			out, errOut, status := runShellSession(t, dir)
			if status != wantStatus {
				t.Errorf("exit status %d, tmpfs %d", status, wantStatus)
			}
			if d := posixtest.Diff("tmpfs", lines(wantOut), tg.name, lines(out)); d != "" {
				t.Errorf("stdout differs:\n%s", d)
			}
			if errOut != wantErr {
				t.Errorf("stderr differs:\n%s", posixtest.Diff("tmpfs", lines(wantErr), tg.name, lines(errOut)))
			}
		})
	}
}

func lines(s string) []string { return strings.Split(s, "\n") }
