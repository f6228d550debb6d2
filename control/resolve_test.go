package control

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestResolveMovedMount: a daemon registered for P/m whose mount moved to
// P2/m (P renamed, P/m made again) is found at P2/m by its mount's
// identity, and P/m is refused with the place the mount is now, for
// Resolve, Select and a second Claim alike. The registry answered P/m by
// the name alone.
func TestResolveMovedMount(t *testing.T) {
	testutil.RequirePrivileged(t)
	r := openRegistry(t)
	ctx := testCtx(t)
	base := t.TempDir()
	parent := filepath.Join(base, "p")
	old, now := filepath.Join(parent, "m"), filepath.Join(base, "p2", "m")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", old, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(now, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW) })
	id, err := mountinfo.RootAt(old)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Claim(old)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen(c.SocketPath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Close()
		c.Release()
	})
	if err := c.Publish(Info{PID: os.Getpid(), Start: time.Now(), MountID: id.Mnt, Dev: id.Dev}); err != nil {
		t.Fatal(err)
	}
	if e, err := r.Resolve(ctx, old); err != nil || e.Point != old {
		t.Fatalf("before the rename, Resolve(%s) = %+v, %v", old, e, err)
	}

	if err := os.Rename(parent, filepath.Dir(now)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	var moved *MovedError
	if _, err := r.Resolve(ctx, old); !errors.As(err, &moved) || moved.Point != now || !strings.Contains(err.Error(), "is at "+now) {
		t.Errorf("Resolve(%s) after the rename: %v; want a MovedError naming %s", old, err, now)
	}
	if _, err := r.Select(ctx, old); !errors.As(err, &moved) {
		t.Errorf("Select(%s) after the rename: %v; want a MovedError", old, err)
	}
	if e, err := r.Resolve(ctx, now); err != nil || e.Mount != old || e.Point != now {
		t.Errorf("Resolve(%s) = %+v, %v; want the daemon registered for %s", now, e, err, old)
	}
	list, err := r.List(ctx)
	if err != nil || len(list) != 1 || list[0].Point != now {
		t.Errorf("List = %+v, %v; want one entry at %s", list, err, now)
	}
	var busy *BusyError
	if _, err := r.Claim(old); !errors.As(err, &busy) || busy.Point != now {
		t.Errorf("second Claim(%s): %v; want a BusyError naming %s", old, err, now)
	}

	if err := unix.Unmount(now, unix.UMOUNT_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, old); !errors.As(err, &moved) || moved.Point != "" {
		t.Errorf("Resolve(%s) with the mount gone: %v; want a MovedError without a place", old, err)
	}
	if _, err := r.Resolve(ctx, now); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Resolve(%s) with the mount gone: %v; want ErrNotRunning", now, err)
	}
}
