package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/testutil"
)

// running is a daemon started in this process by startRun.
type running struct {
	dir, runtime string
	out, errw    *testutil.SyncBuffer
	cancel       context.CancelFunc
	done         chan struct{} // closed when Run has returned err
	err          error
}

// startRun runs a daemon on a fresh directory in a goroutine and waits
// until it has published its registry entry. At cleanup the daemon is
// stopped and the mount detached, whatever the test did.
func startRun(tb testing.TB) *running {
	tb.Helper()
	testutil.RequirePrivileged(tb)
	r := &running{
		dir:     filepath.Join(tb.TempDir(), "mnt"),
		runtime: filepath.Join(tb.TempDir(), "run"),
		out:     new(testutil.SyncBuffer),
		errw:    new(testutil.SyncBuffer),
		done:    make(chan struct{}),
	}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.err = Run(ctx, Config{Dir: r.dir, SizeBytes: 64 << 20, Stdout: r.out, Stderr: r.errw, RuntimeDir: r.runtime})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			tb.Errorf("daemon did not stop; stderr:\n%s", r.errw)
		}
		unix.Unmount(r.dir, unix.MNT_DETACH)
	})
	reg, err := control.Open(r.runtime)
	if err != nil {
		tb.Fatal(err)
	}
	mount, _ := control.Canonical(r.dir)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := reg.Lookup(context.Background(), mount); err == nil {
			return r
		}
		select {
		case <-r.done:
			tb.Fatalf("daemon exited early: %v; stderr:\n%s", r.err, r.errw)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("daemon did not register; stderr:\n%s", r.errw)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *running) wait(tb testing.TB) error {
	tb.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		tb.Fatalf("daemon did not exit; stderr:\n%s", r.errw)
		return nil
	}
}

func mounted(tb testing.TB, dir string) bool {
	tb.Helper()
	m, err := findMount(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return m != nil
}

func TestRunServesAndStopsOnCancel(t *testing.T) {
	r := startRun(t)
	// The daemon registers (which startRun waits for) just before it
	// prints its announcement.
	for end := time.Now().Add(5 * time.Second); !strings.Contains(r.out.String(), "serving "+r.dir) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(r.out.String(), "serving "+r.dir) {
		t.Errorf("stdout %q does not announce the mount", r.out)
	}
	p := filepath.Join(r.dir, "hello")
	if err := os.WriteFile(p, []byte("world"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "world" {
		t.Fatalf("read back %q, %v", got, err)
	}
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	if mounted(t, r.dir) {
		t.Errorf("%s still mounted after Run returned", r.dir)
	}
	if names, _ := os.ReadDir(r.runtime); len(names) != 0 {
		t.Errorf("registry not cleaned: %v", names)
	}
}

func TestUmountStopsDaemon(t *testing.T) {
	r := startRun(t)
	var out bytes.Buffer
	if err := Umount(context.Background(), UmountConfig{Dir: r.dir, Stdout: &out, RuntimeDir: r.runtime}); err != nil {
		t.Fatalf("Umount: %v", err)
	}
	if !strings.Contains(out.String(), "unmounted "+r.dir) {
		t.Errorf("Umount said %q", out.String())
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run after umount: %v", err)
	}
	if mounted(t, r.dir) {
		t.Errorf("%s still mounted", r.dir)
	}
	// A second umount has nothing left to do.
	err := Umount(context.Background(), UmountConfig{Dir: r.dir, Stdout: &out, RuntimeDir: r.runtime})
	if err == nil || !strings.Contains(err.Error(), "no btfuse daemon serves") {
		t.Errorf("second Umount: %v", err)
	}
}

func TestRunStopsOnExternalUnmount(t *testing.T) {
	r := startRun(t)
	if err := unix.Unmount(r.dir, 0); err != nil {
		t.Fatalf("umount: %v", err)
	}
	if err := r.wait(t); err != nil {
		t.Errorf("Run after external umount: %v", err)
	}
	if !strings.Contains(r.errw.String(), "unmounted from outside") {
		t.Errorf("stderr %q does not say why the daemon stopped", r.errw)
	}
}

func TestRunRefusesSecondDaemon(t *testing.T) {
	r := startRun(t)
	err := Run(context.Background(), Config{Dir: r.dir, RuntimeDir: r.runtime})
	var be *control.BusyError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "already serves "+r.dir) {
		t.Errorf("second Run: %v, want a BusyError", err)
	}
	// Another registry does not know the first daemon; the mount table does.
	err = Run(context.Background(), Config{Dir: r.dir, RuntimeDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is already mounted (fuse.btfuse") {
		t.Errorf("Run in another registry: %v, want already mounted", err)
	}
}

func TestRunBadMountpoint(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name, dir, want string
	}{
		{"missing", filepath.Join(base, "nope"), "mount point " + filepath.Join(base, "nope") + " does not exist"},
		{"file", file, "mount point " + file + " is not a directory"},
	}
	if os.Geteuid() == 0 {
		tmpfs := testutil.TmpfsDir(t)
		tests = append(tests, struct{ name, dir, want string }{"mounted", tmpfs, tmpfs + " is already mounted (tmpfs"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), Config{Dir: tt.dir, RuntimeDir: t.TempDir(), Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run(%s): %v, want %q", tt.dir, err, tt.want)
			}
		})
	}
}

func TestUmountNothingThere(t *testing.T) {
	dir := t.TempDir()
	err := Umount(context.Background(), UmountConfig{Dir: dir, RuntimeDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no btfuse daemon serves "+dir+" and nothing is mounted there") {
		t.Errorf("Umount: %v", err)
	}
	if os.Geteuid() == 0 {
		tmpfs := testutil.TmpfsDir(t)
		err := Umount(context.Background(), UmountConfig{Dir: tmpfs, RuntimeDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "is a tmpfs mount, not a btfuse one") {
			t.Errorf("Umount of a tmpfs: %v", err)
		}
	}
}
