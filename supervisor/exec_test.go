package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestExecOnly: a program with mode 0711 can be run, but not read, by a
// user who is neither its owner nor in its group, on tmpfs, through the
// FUSE door and under run. The kernel's open for exec needs execute
// permission only (fs/exec.c:do_open_execat()); btfuse asked for read
// permission and refused it.
func TestExecOnly(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.RequireProgram(t, "setpriv")
	const setpriv = "setpriv"
	nobody := []string{setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"}
	for _, dir := range []string{ref, s.Dir} {
		p := filepath.Join(dir, "xo")
		testutil.CopyExecutable(t, "/bin/true", p)
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	plain := func(argv ...string) int {
		err := exec.Command(argv[0], argv[1:]...).Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		return 0
	}
	for _, tc := range []struct {
		door string
		dir  string
		run  func(argv ...string) int
	}{
		{"tmpfs", ref, plain},
		{"fuse", s.Dir, plain},
		{"run", s.mount, func(argv ...string) int {
			code, _, _ := s.run(t, argv)
			return code
		}},
	} {
		p := filepath.Join(tc.dir, "xo")
		if code := tc.run(append(nobody, p)...); code != 0 {
			t.Errorf("%s: running a 0711 program as nobody: exit %d, want 0", tc.door, code)
		}
		if code := tc.run(append(nobody, "/bin/cat", p)...); code == 0 {
			t.Errorf("%s: reading a 0711 program as nobody succeeded", tc.door)
		}
	}
}
