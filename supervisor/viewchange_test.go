package supervisor

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// chrootHelper chroots into jail and stats mount/f by its host path,
// which does not exist inside the jail.
func chrootHelper(mount string) []string {
	if err := unix.Chroot(os.Getenv("BTFUSE_JAIL")); err != nil {
		return []string{"chroot: " + err.Error()}
	}
	var st unix.Stat_t
	if err := unix.Stat(mount+"/f", &st); err != unix.ENOENT {
		return []string{"stat of the mount's host path inside the jail: " + errString(err) + ", want ENOENT"}
	}
	return nil
}

// landlockHelper restricts itself to no file reads at all, then reads
// mount/f: the kernel refuses (EACCES).
func landlockHelper(mount string) []string {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: unix.LANDLOCK_ACCESS_FS_READ_FILE}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return []string{"landlock_create_ruleset: " + e.Error()}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return []string{"no_new_privs: " + err.Error()}
	}
	// The domain binds the calling thread: the open runs on it too.
	runtime.LockOSThread()
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return []string{"landlock_restrict_self: " + e.Error()}
	}
	if _, err := unix.Open(mount+"/f", unix.O_RDONLY, 0); err != unix.EACCES {
		return []string{"open under a Landlock domain that allows no reads: " + errString(err) + ", want EACCES"}
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// TestRunViewChanges: a process that changes how it sees the filesystem
// gets the kernel's answers under run. After chroot the mount's host path
// is gone; under a Landlock domain reads are refused; in a private mount
// namespace a tmpfs mounted on DIR hides btfuse. Under run all three were
// served from btfuse as if nothing had changed (in the last case writing
// and deleting btfuse's files behind the private tmpfs).
func TestRunViewChanges(t *testing.T) {
	s := startSupervised(t)
	if err := os.WriteFile(filepath.Join(s.Dir, "f"), []byte("btfuse"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("chroot", func(t *testing.T) {
		jail := t.TempDir()
		if code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=chroot", "BTFUSE_JAIL="+jail); code != 0 {
			t.Errorf("exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("landlock", func(t *testing.T) {
		if code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=landlock"); code != 0 {
			t.Errorf("exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("private mount namespace", func(t *testing.T) {
		testutil.RequirePrivileged(t)
		fB := filepath.Join(s.Dir, "fB")
		if err := os.WriteFile(fB, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `mount -t tmpfs none "$BTFUSE_MOUNT" && echo private > "$BTFUSE_MOUNT/f" && rm -f "$BTFUSE_MOUNT/fB" && ls -A "$BTFUSE_MOUNT"`
		code, out, errs := s.run(t, []string{"unshare", "-m", "--propagation", "private", "sh", "-c", script})
		if code != 0 || strings.TrimSpace(out) != "f" {
			t.Errorf("in the private namespace: exit %d, %q %s", code, out, errs)
		}
		if b, err := os.ReadFile(filepath.Join(s.Dir, "f")); err != nil || string(b) != "btfuse" {
			t.Errorf("btfuse's f after writes in a private namespace: %q %v", b, err)
		}
		if _, err := os.Stat(fB); err != nil {
			t.Errorf("btfuse's fB after rm in a private namespace: %v", err)
		}
	})
}
