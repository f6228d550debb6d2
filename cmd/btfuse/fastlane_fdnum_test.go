package main

import (
	"os/exec"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestRunFastLaneFdNumbers: a program that made the fast lane's library
// handshake (which receives a socket, a doorbell and the backing
// directory) still gets the lowest free descriptor numbers from its own
// opens and dups, as it does natively: the library's descriptors live
// high in the table. Before, its first open returned 6 instead of 3.
func TestRunFastLaneFdNumbers(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flfdnum")
	native, err := exec.Command(helper, t.TempDir()).Output()
	if err != nil {
		t.Fatalf("natively: %v", err)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, dir})...)
	if code != 0 || out != string(native) {
		t.Fatalf("under the fast lane: exit %d, %q (stderr %q); natively %q", code, out, errOut, native)
	}
	// The lane must really have handshaked, or the test proves nothing.
	if n := notified(t, runtime, dir, "newfstatat@fast"); n == 0 {
		t.Errorf("no stat answered by the fast lane")
	}
}
