package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// inotifyEvents counts the events an inotify watch on dir reports while
// change runs.
func inotifyEvents(t *testing.T, dir string, change func()) int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MODIFY|unix.IN_ATTRIB|unix.IN_MOVE); err != nil {
		t.Fatal(err)
	}
	change()
	time.Sleep(50 * time.Millisecond)
	n := 0
	buf := make([]byte, 64<<10)
	for {
		m, err := unix.Read(fd, buf)
		if err != nil || m <= 0 {
			return n
		}
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			ev := (*unix.InotifyEvent)(unsafePointer(&buf[off]))
			n++
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// TestInotifyGapPinned pins a limit of the supervised door that the
// README lists: inotify (and fanotify) report what passes through the VFS
// of the watched mount, and a served call does not, so a watch on the
// mount sees changes made through the FUSE door as on tmpfs, and none
// made under run. Finding the watches on a mount needs a scan of every
// process's descriptors, too costly to make on every call.
func TestInotifyGapPinned(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	script := `d="$1"; echo x > "$d/f"; chmod 600 "$d/f"; mv "$d/f" "$d/g"; rm "$d/g"`
	plain := func(dir string) func() {
		return func() {
			if out, err := execSh(script, dir); err != nil {
				t.Fatalf("%v %s", err, out)
			}
		}
	}
	want := inotifyEvents(t, ref, plain(ref))
	if want == 0 {
		t.Fatal("no events on tmpfs: the watch tests nothing")
	}
	if got := inotifyEvents(t, s.Dir, plain(s.Dir)); got != want {
		t.Errorf("through FUSE: %d events, tmpfs %d", got, want)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "w"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := inotifyEvents(t, s.Dir, func() {
		if code, out, errs := s.run(t, []string{"/bin/sh", "-c", script, "sh", s.mount}); code != 0 {
			t.Fatalf("under run: exit %d %s%s", code, out, errs)
		}
	})
	if got != 0 {
		t.Errorf("under run: %d events; the README says none reach a watch (update it and this test)", got)
	}
}

// execSh runs script with sh, $1 set to arg.
func execSh(script, arg string) ([]byte, error) {
	return exec.Command("/bin/sh", "-c", script, "sh", arg).CombinedOutput()
}
