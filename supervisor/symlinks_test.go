package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// protectedSymlinksHelper follows symlinks in the sticky world-writable
// directory st (one of another user, one of the directory's owner) and
// prints what each follow gave.
func protectedSymlinksHelper(dir string) []string {
	var out []string
	for _, l := range []string{"theirs", "owners"} {
		_, err := os.ReadFile(filepath.Join(dir, "st", l))
		var st unix.Stat_t
		serr := unix.Stat(filepath.Join(dir, "st", l), &st)
		out = append(out, fmt.Sprintf("%s: read %v, stat %v", l, errnoOrNil(err), errnoOrNil(serr)))
	}
	return out
}

func errnoOrNil(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// TestProtectedSymlinks: with fs.protected_symlinks on, root may not follow
// another user's symlink in a sticky world-writable directory
// (fs/namei.c:may_follow_link()), through the FUSE door and under run, as
// on tmpfs; it may follow one that belongs to the directory's owner.
func TestProtectedSymlinks(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	for _, dir := range []string{ref, s.Dir} {
		st := stickyDir(t, dir)
		if err := os.WriteFile(filepath.Join(dir, "target"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"theirs", "owners"} {
			if err := os.Symlink("../target", filepath.Join(st, l)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Lchown(filepath.Join(st, "theirs"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	sysctltest.Set(t, "protected_symlinks", 1)
	want := protectedSymlinksHelper(ref)
	if want[0] != "theirs: read permission denied, stat permission denied" {
		t.Fatalf("tmpfs with protected_symlinks=1: %v", want)
	}
	if got := protectedSymlinksHelper(s.Dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fuse: %v, want %v", got, want)
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=protsymlinks")
	if code != 1 || errs != fmt.Sprintln(want[0])+fmt.Sprintln(want[1]) {
		t.Errorf("run: exit %d, %q%q; want %v", code, out, errs, want)
	}
}

// stickyDir makes dir/st, mode 01777 (set with chmod(2): os.Chmod and
// os.Mkdir drop the 01000 bit of a plain number).
func stickyDir(t *testing.T, dir string) string {
	t.Helper()
	st := filepath.Join(dir, "st")
	if err := os.Mkdir(st, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(st, 0o1777); err != nil {
		t.Fatal(err)
	}
	return st
}
