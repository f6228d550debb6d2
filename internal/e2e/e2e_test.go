package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

func TestMain(m *testing.M) {
	// Modes of created files must not depend on who runs the tests.
	unix.Umask(0o022)
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// target is a filesystem under test.
type target struct {
	name  string
	mount func(tb testing.TB) string
}

// targets are the doors every differential test runs against: btfuse with
// FUSE passthrough, and without it (file data over the FUSE wire). With
// BTFUSE_E2E_TARGET=tmpfs, a second tmpfs instead: the harness check.
func targets() []target {
	if os.Getenv("BTFUSE_E2E_TARGET") == "tmpfs" {
		return []target{{"tmpfs", referenceDir}}
	}
	return []target{
		{"passthrough", func(tb testing.TB) string { return testutil.MountBtfuse(tb) }},
		{"close-to-open", func(tb testing.TB) string { return testutil.MountBtfuse(tb, testutil.NoPassthrough()) }},
	}
}

// referenceDir is a fresh kernel tmpfs that other users can reach.
func referenceDir(tb testing.TB) string {
	tb.Helper()
	dir := testutil.TmpfsDir(tb)
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		tb.Fatalf("make %s traversable: %v", filepath.Dir(dir), err)
	}
	return dir
}

// mkdirs makes a fresh directory named sub under each root and returns the
// paths.
func mkdirs(tb testing.TB, sub string, roots ...string) []string {
	tb.Helper()
	var out []string
	for _, r := range roots {
		p := filepath.Join(r, sub)
		if err := os.Mkdir(p, 0o755); err != nil {
			tb.Fatalf("mkdir: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// compareTranscripts logs the reference transcript when BTFUSE_E2E_DUMP is
// set, and fails tb when either side violated a hand-written
// expectation, or when the transcripts differ.
func compareTranscripts(tb testing.TB, name string, want, got posixtest.Transcript) {
	tb.Helper()
	if os.Getenv("BTFUSE_E2E_DUMP") != "" {
		tb.Logf("reference transcript:\n%s", strings.Join(want.Lines, "\n"))
	}
	posixtest.Compare(tb, name, want, got, "")
}
