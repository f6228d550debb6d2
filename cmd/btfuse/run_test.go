package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

func TestE2ERunEmbedded(t *testing.T) {
	testutil.RequirePrivileged(t)
	runtime := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runBtfuse(t, runtime, "run", "--", "sh", "-c", `echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"; exit 3`)
	if code != 3 || out != "hi\n" {
		t.Fatalf("btfuse run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(errOut, "btfuse run: filesystem at "))
	if !strings.HasPrefix(errOut, "btfuse run: filesystem at ") {
		t.Errorf("stderr does not name the directory: %q", errOut)
	}
	if isMounted(t, dir) {
		t.Errorf("%s still mounted after run", dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary mount directory left behind: %v", err)
	}
}

func TestE2ERunAttached(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	if err := os.WriteFile(filepath.Join(dir, "fromfuse"), []byte("fuse\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c",
		`cat "$BTFUSE_MOUNT/fromfuse"; echo hi > "$BTFUSE_MOUNT/f"; cat "$BTFUSE_MOUNT/f"`)
	if code != 0 || out != "fuse\nhi\n" {
		t.Fatalf("btfuse run --mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(errOut, "filesystem at") {
		t.Errorf("run mounted its own filesystem instead of attaching: %q", errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("through FUSE: %q, %v", b, err)
	}
	if code, _, errOut := runBtfuse(t, runtime, "umount", dir); code != 0 {
		t.Fatalf("umount: %d %s", code, errOut)
	}
	if code := d.wait(t); code != 0 {
		t.Errorf("daemon exit %d; stderr:\n%s", code, d.errw)
	}
}
