package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
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
