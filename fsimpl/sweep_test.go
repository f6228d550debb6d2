package fsimpl

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary play a daemon that dies holding a
// BackingShm directory (see TestSweepShmBacking).
func TestMain(m *testing.M) {
	if parent := os.Getenv("BTFUSE_TEST_DIE_WITH_BACKING"); parent != "" {
		b, err := openShmBackingIn(parent)
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error())
			os.Exit(1)
		}
		fd, _ := b.create(2, unix.O_RDWR)
		unix.Write(fd, []byte("the user's data"))
		os.Stdout.WriteString(b.path)
		os.Stdout.Close()
		unix.Kill(os.Getpid(), unix.SIGKILL) // dies without cleaning up
	}
	os.Exit(m.Run())
}

// TestSweepShmBacking: the store a SIGKILLed daemon left under /dev/shm
// is removed by the sweep; a live daemon's, and everything that is not
// provably a dead daemon's store (another user's, a symbolic link, a
// directory of an older btfuse that held no lock, one with a mode or
// contents no daemon makes), is left alone, and nothing is followed.
func TestSweepShmBacking(t *testing.T) {
	parent := t.TempDir()
	mkdir := func(name string, mode os.FileMode) string {
		p := filepath.Join(parent, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		if err := os.WriteFile(filepath.Join(p, "1"), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A daemon that died.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_DIE_WITH_BACKING="+parent)
	out, err := cmd.Output()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("helper: %v %s", err, out)
	}
	dead := string(out)
	if !strings.HasPrefix(dead, filepath.Join(parent, "btfuse-data-")) {
		t.Fatalf("helper made %q", dead)
	}
	// A live one (this process).
	live, err := openShmBackingIn(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer live.close()
	fd, e := live.create(2, unix.O_RDWR)
	if e != 0 {
		t.Fatal(e)
	}
	unix.Close(fd)

	// What must be left alone.
	victim := mkdir("victim", 0o700)
	if err := os.Symlink(victim, filepath.Join(parent, "btfuse-data-1-link")); err != nil {
		t.Fatal(err)
	}
	others := mkdir("btfuse-data-2-other", 0o700)
	if os.Geteuid() == 0 {
		if err := os.Chown(others, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	} else {
		os.Chmod(others, 0o750) // not ours to test as another user: left alone by its mode
	}
	old := mkdir("btfuse-data-12345", 0o700)
	wideOpen := mkdir("btfuse-data-3-mode", 0o755)
	odd := mkdir("btfuse-data-4-odd", 0o700)
	if err := os.Mkdir(filepath.Join(odd, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "btfuse-data-5-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	removed, err := SweepShmBacking(parent)
	if !slices.Equal(removed, []string{dead}) {
		t.Errorf("swept %q, want only the dead daemon's %s", removed, dead)
	}
	if err == nil || !strings.Contains(err.Error(), "btfuse-data-4-odd") {
		t.Errorf("sweep error %v, want one about the directory holding a directory", err)
	}
	if _, err := os.Lstat(dead); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", dead, err)
	}
	for _, p := range []string{live.path, victim, others, old, wideOpen, odd} {
		if _, err := os.Stat(filepath.Join(p, "1")); err != nil && p != live.path {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(live.path, backingName(2))); err != nil {
		t.Errorf("the live daemon's store was touched: %v", err)
	}
	// Closing removes a live store as before.
	livePath := live.path
	live.close()
	if _, err := os.Lstat(livePath); !os.IsNotExist(err) {
		t.Errorf("%s still there after close: %v", livePath, err)
	}
}
