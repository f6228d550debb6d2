package supervisor

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// requireAlarm fails the test when this kernel (>= 6.1, io_uring allowed)
// should give the view alarm and the supervisor has none: the tests below
// would then prove only the polling fallback.
func requireAlarm(t *testing.T, s *Supervisor) {
	t.Helper()
	if s.mounts.alarm.Load() != nil {
		return
	}
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil && string(b) != "0\n" {
		t.Skipf("io_uring disabled here (kernel.io_uring_disabled = %s)", b)
	}
	t.Fatal("no view alarm: newViewAlarm failed on a kernel with io_uring (see the daemon's debug log)")
}

// TestViewAlarmRingsInline pins the kernel behaviour the view alarm rests
// on (a kernel quirk, io_uring's IORING_SETUP_TASKRUN_FLAG with
// DEFER_TASKRUN): the flag is set by the mount(2), umount(2) or chmod(2)
// itself, before it returns, so a check right after it, with no wait,
// sees it; and rearming quiets the alarm until the next change.
func TestViewAlarmRingsInline(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	sub := filepath.Join(dir, "m")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ino, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, dir, unix.IN_ATTRIB|unix.IN_ONLYDIR); err != nil {
		t.Fatal(err)
	}
	a, err := newViewAlarm(ino)
	if err != nil {
		t.Fatalf("newViewAlarm: %v", err)
	}
	defer a.stop()
	quiet := func(when string) {
		t.Helper()
		if e := a.rearm(ino); e != 0 {
			t.Fatalf("%s: rearm: %v", when, e)
		}
		if a.rung() {
			t.Fatalf("%s: the alarm rings after a rearm with nothing changed", when)
		}
	}
	quiet("start")
	for i := range 20 {
		if err := unix.Mount("none", sub, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		rang := a.rung()
		if err := unix.Unmount(sub, 0); err != nil {
			t.Fatal(err)
		}
		if !rang {
			t.Fatalf("round %d: the alarm was quiet right after mount(2) returned", i)
		}
		quiet("after the unmount")
		// The inotify descriptor: drain it first, or its queued events
		// keep it ready.
		if err := os.Chmod(dir, 0o700|os.FileMode(i%2)); err != nil {
			t.Fatal(err)
		}
		if !a.rung() {
			t.Fatalf("round %d: the alarm was quiet right after chmod(2) of a watched directory returned", i)
		}
		var buf [4096]byte
		for n, _ := unix.Read(ino, buf[:]); n > 0; n, _ = unix.Read(ino, buf[:]) {
		}
		quiet("after the chmod")
	}
}

// TestCurrentViewSeesRemountAtOnce: a remount that returned before
// currentView was called is in the view it returns, also when the view
// was current just before (the alarm's quiet path: no poll); likewise a
// rename of the directory above the mount.
func TestCurrentViewSeesRemountAtOnce(t *testing.T) {
	s := startSupervised(t)
	requireAlarm(t, s.sup)
	t.Cleanup(func() { unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, "") })
	for i := range 20 {
		for range 3 {
			if v := s.sup.currentView(); v.kernelOnly {
				t.Fatalf("round %d: writable mount seen as kernel-only", i)
			}
		}
		if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			t.Fatal(err)
		}
		if v := s.sup.currentView(); !v.kernelOnly {
			t.Fatalf("round %d: the call right after a read-only remount did not see it", i)
		}
		if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		if v := s.sup.currentView(); v.kernelOnly {
			t.Fatalf("round %d: the call right after the remount back did not see it", i)
		}
	}
	parent := filepath.Dir(s.mount)
	moved := parent + ".moved"
	if err := os.Rename(parent, moved); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(moved, parent)
	want := filepath.Join(moved, filepath.Base(s.mount))
	if v := s.sup.currentView(); v.path != want {
		t.Errorf("right after the rename above the mount: view at %q, want %q", v.path, want)
	}
	if err := os.Rename(moved, parent); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); v.path != s.mount {
		t.Errorf("right after the rename back: view at %q, want %q", v.path, s.mount)
	}
}

// TestCurrentViewAlarmFails: an alarm whose ring stops working (here its
// descriptor is replaced by /dev/null, so io_uring_enter fails) is dropped
// at the first call that needs a rearm, and from then on every call polls:
// the remount that made the alarm ring is seen by that same call, and the
// next one by the call after it.
func TestCurrentViewAlarmFails(t *testing.T) {
	s := startSupervised(t)
	requireAlarm(t, s.sup)
	t.Cleanup(func() { unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, "") })
	a := s.sup.mounts.alarm.Load()
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	if err := unix.Dup3(null, a.ring.fd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); v.kernelOnly {
		t.Fatal("writable mount seen as kernel-only")
	}
	if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); !v.kernelOnly {
		t.Error("the call right after a read-only remount, with a broken alarm, did not see it")
	}
	if s.sup.mounts.alarm.Load() != nil {
		t.Error("the broken alarm is still in use")
	}
	if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if v := s.sup.currentView(); v.kernelOnly {
		t.Error("the call right after the remount back, polling, did not see it")
	}
}

// BenchmarkCurrentView is the cost per served call of knowing the mount's
// view current: with the alarm (an atomic load while nothing changes) and
// without it (a poll(2) of two descriptors).
func BenchmarkCurrentView(b *testing.B) {
	s := startSupervised(b)
	b.Run("alarm", func(b *testing.B) {
		if s.sup.mounts.alarm.Load() == nil {
			b.Skip("no view alarm here")
		}
		for b.Loop() {
			s.sup.currentView()
		}
	})
	b.Run("poll", func(b *testing.B) {
		w := &s.sup.mounts
		w.mu.Lock()
		a := w.alarm.Swap(nil)
		w.mu.Unlock()
		defer w.alarm.Store(a)
		for b.Loop() {
			s.sup.currentView()
		}
	})
}
