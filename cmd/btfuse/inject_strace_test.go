package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// straceScript is a shell session with opens, reads, writes and mkdirs in
// several processes; all of its output goes to stdout.
const straceScript = `exec 2>&1; for i in 1 2 3; do cat f; echo "rc=$?"; done; mkdir d1 d2 d3; echo "mk=$?"; ls`

// straceRules are rules strace can express too; btfuse must fault the
// same calls (when= counted per rule and per process, as strace counts
// per traced process).
var straceRules = []string{
	"openat:error=ENOENT:when=3",
	"openat:error=EACCES:when=3+2",
	"mkdir:error=EEXIST:when=2",
	"write:error=EIO:when=2..3",
	"openat,mkdir:error=EPERM:when=6",
	"read:retval=0:when=3",
	"unlink,rmdir,mkdir:retval=0",
}

// TestInjectStraceDifferential runs the same session under
// 'strace -f -e inject=RULE' and 'btfuse run --inject RULE', each in a
// fresh directory, and compares what the session printed.
func TestInjectStraceDifferential(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "strace")
	session := func(t *testing.T, wrap func(dir string) *exec.Cmd) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := wrap(dir)
		cmd.Dir = dir
		// No locale files: their opens would shift the counts by
		// what the machine has installed.
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "LC_ALL=C")
		code, out, _ := runToEnd(t, cmd)
		return sprintf("%s[exit %d]", out, code)
	}
	plain := session(t, func(string) *exec.Cmd { return exec.Command("sh", "-c", straceScript) })
	for _, rule := range straceRules {
		t.Run(rule, func(t *testing.T) {
			want := session(t, func(string) *exec.Cmd {
				return exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject="+rule, "sh", "-c", straceScript)
			})
			got := session(t, func(string) *exec.Cmd {
				return btfuse(filepath.Join(t.TempDir(), "run"), "run", "--inject-seed", "1", "--inject", rule, "--", "sh", "-c", straceScript)
			})
			if got != want {
				t.Errorf("strace:\n%s\nbtfuse:\n%s", want, got)
			}
			if !strings.Contains(want, "\n") || want == plain {
				t.Errorf("the rule changed nothing under strace: %q", want)
			}
		})
	}
}
