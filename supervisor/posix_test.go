package supervisor

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// posixHelper runs every conformance case under root and prints the
// transcripts as JSON, by case name.
func posixHelper(root string) int {
	out := map[string]posixtest.Transcript{}
	for _, c := range posixtest.Cases {
		out[c.Name] = posixtest.RunCase(c, root)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return 1
	}
	return 0
}

// knownDiffs are the cases where btfuse run still differs from tmpfs, with
// why; their differences are logged, not failed. Remove an entry when its
// case passes.
var knownDiffs = map[string]string{}

// TestRunPosixConformance runs the FUSE door's conformance suite in a
// process supervised by btfuse run against the mount, and natively against
// tmpfs, and compares the transcripts case by case. The suite is Go (bare
// syscalls): with the fast lane, this test binary (linked against libc)
// loads the library and runs under the fast filter without reaching it,
// which must change nothing.
func TestRunPosixConformance(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	for _, lane := range lanes {
		t.Run(lane, func(t *testing.T) { posixConformance(t, withLane(t, startSupervised(t), lane)) })
	}
}

func posixConformance(t *testing.T, s *supervised) {
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=posix", MountEnv+"="+ref)
	cmd.Stderr = os.Stderr
	wantJSON, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	code, gotJSON, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=posix")
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s", code, errs)
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
			posixtest.Compare(t, "run", want[c.Name], got[c.Name], knownDiffs[c.Name])
		})
	}
}
