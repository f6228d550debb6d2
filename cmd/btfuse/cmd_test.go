package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

func TestMountRunEFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad size", []string{"--size", "12Q", dir}, `--size: invalid size "12Q"`},
		{"bad percent", []string{"--size", "200%", dir}, "between 0 and 100"},
		{"bad inodes", []string{"--inodes", "many", dir}, `--inodes: invalid count "many"`},
		{"missing dir", []string{filepath.Join(dir, "nope")}, "does not exist: create it with 'mkdir -p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BTFUSE_RUNTIME_DIR", filepath.Join(t.TempDir(), "run"))
			cmd := NewCmdMount()
			cmd.SetOut(new(bytes.Buffer))
			cmd.SetErr(new(bytes.Buffer))
			cmd.SetContext(context.Background())
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			err := cmd.RunE(cmd, cmd.Flags().Args())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("mount %v: %v, want %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRootArgs(t *testing.T) {
	for _, args := range [][]string{{"mount"}, {"mount", "a", "b"}, {"umount"}} {
		root := NewCmdRoot()
		root.SetArgs(args)
		root.SetOut(new(bytes.Buffer))
		root.SetErr(new(bytes.Buffer))
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "takes one directory") || !strings.Contains(err.Error(), "usage: btfuse "+args[0]+" DIR") {
			t.Errorf("btfuse %v: %v", args, err)
		}
	}
	root := NewCmdRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--version"})
	if err := root.ExecuteContext(context.Background()); err != nil || !strings.Contains(out.String(), "btfuse version") {
		t.Errorf("--version: %q, %v", out.String(), err)
	}
}

// TestRunNoCommand: 'btfuse run' without a command says how to give one
// and fails, rather than cobra's "requires at least 1 arg(s)".
func TestRunNoCommand(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"run", "--mount", t.TempDir()}, {"run", "--"}} {
		code, out, errOut := runBtfuse(t, filepath.Join(t.TempDir(), "run"), args...)
		if code == 0 || !strings.Contains(errOut, "no command to run: usage: btfuse run") || out != "" {
			t.Errorf("btfuse %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestRunHelpExample runs the first example of 'btfuse run --help' as a
// shell would, with btfuse standing for this binary: it must write into
// the filesystem it runs on, never into the current directory.
func TestRunHelpExample(t *testing.T) {
	testutil.RequirePrivileged(t)
	ex := strings.TrimSpace(strings.SplitN(NewCmdRun().Example, "\n", 2)[0])
	if !strings.HasPrefix(ex, "btfuse run ") || !strings.Contains(ex, "$BTFUSE_MOUNT") {
		t.Fatalf("the first example is %q: want a 'btfuse run' that uses $BTFUSE_MOUNT", ex)
	}
	cwd := t.TempDir()
	sh := exec.Command("sh", "-c", `btfuse() { "$BTFUSE_TEST_BIN" "$@"; }; `+ex)
	sh.Dir = cwd
	sh.Env = append(btfuse(filepath.Join(t.TempDir(), "run")).Env, "BTFUSE_TEST_BIN="+os.Args[0])
	code, out, errOut := runToEnd(t, sh)
	if code != 0 || out != "hi\n" {
		t.Errorf("%s: exit %d, stdout %q, stderr %q", ex, code, out, errOut)
	}
	if names, _ := os.ReadDir(cwd); len(names) != 0 {
		t.Errorf("%s wrote into the current directory: %v", ex, names)
	}
}
