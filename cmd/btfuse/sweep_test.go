package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/testutil"
)

// dieWithStore plays a daemon that keeps its file contents under /dev/shm
// (as one that can create no private tmpfs does) and is SIGKILLed: it
// prints the store's path and kills itself.
func dieWithStore() {
	fs, err := fsimpl.New(fsimpl.Options{Backing: fsimpl.BackingShm})
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error())
		os.Exit(1)
	}
	d := fs.BackingDescription()
	d = strings.TrimPrefix(d, "directory ")
	d = d[:strings.IndexByte(d, ' ')]
	os.WriteFile(filepath.Join(d, "1"), []byte("the user's data"), 0o600)
	os.Stdout.WriteString(d)
	os.Stdout.Close()
	unix.Kill(os.Getpid(), unix.SIGKILL)
}

// TestE2ESweepDeadStore: the file store a SIGKILLed daemon left under
// /dev/shm is removed by the next 'btfuse umount' (whatever it is asked),
// which says so, and by the next daemon. Before, nothing ever removed it,
// with the user's data in it.
func TestE2ESweepDeadStore(t *testing.T) {
	testutil.RequirePrivileged(t) // mount
	for _, by := range []string{"umount", "mount"} {
		t.Run(by, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "BTFUSE_TEST_DIE_WITH_STORE=1")
			out, err := cmd.Output()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("helper: %v %s", err, out)
			}
			store := string(out)
			t.Cleanup(func() { os.RemoveAll(store) })
			if !strings.HasPrefix(store, "/dev/shm/btfuse-data-") {
				t.Fatalf("helper made %q", store)
			}
			if _, err := os.Stat(filepath.Join(store, "1")); err != nil {
				t.Fatal(err)
			}
			dir, runtime := mountDirs(t)
			var said string
			switch by {
			case "umount":
				_, said, _ = runBtfuse(t, runtime, "umount", dir) // nothing to unmount: it fails
			case "mount":
				// Said before the serving line, on stderr, which reaches the
				// test through a copying goroutine: wait for it.
				d := startDaemon(t, runtime, dir)
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
					said = d.errw.String()
					if strings.Contains(said, store) || time.Now().After(deadline) { // a hang guard
						break
					}
				}
			}
			_, err = os.Lstat(store)
			switch {
			case !os.IsNotExist(err):
				t.Errorf("%s still there after btfuse %s: %v", store, by, err)
			case !strings.Contains(said, "btfuse: removed "+store+", the file store of a daemon that died"):
				// Every daemon starting on this machine sweeps, those of
				// tests running beside this one too: one of them may
				// have been first.
				t.Logf("btfuse %s did not say it removed %s (%q): another daemon swept it first", by, store, said)
			}
		})
	}
}
