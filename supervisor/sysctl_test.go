package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestProtectedHardlinksLive: fs.protected_hardlinks changed after the
// daemon started applies at once through both doors, as on tmpfs. A hard
// link to another user's file that the linker may not read and write is
// refused only while the sysctl is on (fs/namei.c:may_linkat() reads it at
// each call); btfuse read it once at start and kept refusing.
func TestProtectedHardlinksLive(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.RequireProgram(t, "setpriv")
	const setpriv = "setpriv"
	for _, dir := range []string{ref, s.Dir} {
		st := stickyDir(t, dir)
		if err := os.WriteFile(filepath.Join(st, "victim"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := func(door, dir, name string) error {
		argv := []string{setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
			"/bin/ln", filepath.Join(dir, "st/victim"), filepath.Join(dir, "st", name)}
		if door == "run" {
			if code, out, errs := s.run(t, argv); code != 0 {
				return fmt.Errorf("exit %d: %s%s", code, out, errs)
			}
			return nil
		}
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	doors := []struct{ door, dir string }{{"tmpfs", ref}, {"fuse", s.Dir}, {"run", s.mount}}
	for _, v := range []int{0, 1} {
		t.Run(fmt.Sprintf("protected_hardlinks=%d", v), func(t *testing.T) {
			sysctltest.Set(t, "protected_hardlinks", v)
			for _, d := range doors {
				err := link(d.door, d.dir, fmt.Sprintf("l%d-%s", v, d.door))
				if v == 0 && err != nil {
					t.Errorf("%s: link refused with the sysctl off: %v", d.door, err)
				}
				if v == 1 && err == nil {
					t.Errorf("%s: link allowed with the sysctl on", d.door)
				}
			}
		})
	}
}
