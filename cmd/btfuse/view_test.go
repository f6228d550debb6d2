package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/shmring"
)

// The fast lane's metadata view under 'btfuse run': which calls it answers
// in the process (counted in status as door fast, with no event in the
// ring and no notification), across fork, and that its answers under
// concurrent change are states the files were in.

// ringOf opens the shared-memory segment of the daemon serving dir.
func ringOf(tb testing.TB, runtime, dir string) *shmring.Segment {
	tb.Helper()
	reg, err := control.Open(runtime)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := control.Canonical(dir)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := reg.Lookup(context.Background(), m)
	if err != nil {
		tb.Fatal(err)
	}
	seg, err := shmring.Open(e.Shm)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { seg.Close() })
	return seg
}

// ringEach calls fn with every event from c until the ring is drained.
func ringEach(tb testing.TB, c *shmring.Cursor, fn func(r *shmring.Record)) {
	tb.Helper()
	buf := make([]shmring.Record, 0, 1024)
	for {
		recs, err := c.Poll(buf[:0])
		if err != nil {
			tb.Fatal(err)
		}
		if len(recs) == 0 {
			return
		}
		for i := range recs {
			fn(&recs[i])
		}
	}
}

// ringEvents counts the events from c on whose path is p, by door.
func ringEvents(tb testing.TB, c *shmring.Cursor, p string) map[event.Door]int {
	tb.Helper()
	got := map[event.Door]int{}
	ringEach(tb, c, func(r *shmring.Record) {
		if r.Path == p || strings.HasSuffix(p, "/"+r.Path) {
			got[r.Door]++
		}
	})
	return got
}

// TestRunViewAnswers: N stats of a file under the mount, in one process
// and in a fork child and its parent, are answered by the metadata view:
// status counts them as door fast, none was notified, and the ring holds
// an event for at most the first call of each process (its handshake
// goes through the channel; BTFUSE_FAST_AFTER=0).
func TestRunViewAnswers(t *testing.T) {
	testutil.RequirePrivileged(t)
	probe := cHelper(t, "flprobe")
	dir, runtime, under := daemonWithFile(t, []byte("data"))
	seg := ringOf(t, runtime, dir)
	const n = 2000
	N := fmt.Sprint(n)
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		calls int
		procs int
	}{
		{"stat", []string{probe, "stat", N, under}, "stat ok=2000 errno=0 page=1\n", n, 1},
		{"fork", []string{probe, "fork", N, under}, "child ok=2000 errno=0 page=1\nparent ok=2000 errno=0 page=1\n", 2 * n, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := seg.Cursor(false)
			before := notified(t, runtime, dir, "newfstatat")
			beforeFast := notified(t, runtime, dir, "newfstatat@fast")
			code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, tc.args)...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
			got := notified(t, runtime, dir, "newfstatat") - before
			fast := notified(t, runtime, dir, "newfstatat@fast") - beforeFast
			ev := ringEvents(t, cur, under)
			// Every stat is the fast lane's; what is notified is the
			// program's own start-up (at most one a process).
			if fast != uint64(tc.calls) || got > uint64(tc.procs) {
				t.Errorf("%d stats: %d counted for door fast, %d notified", tc.calls, fast, got)
			}
			// The channel's answers leave events, the view's do not.
			if ev[event.DoorFast] > tc.procs || ev[event.DoorRun] != 0 {
				t.Errorf("%d stats: %d channel events, %d seccomp events in the ring; want at most %d, 0",
					tc.calls, ev[event.DoorFast], ev[event.DoorRun], tc.procs)
			}
		})
	}
}

// TestRunViewUnderChange: a process stats two names in a loop while this
// test swaps them (RENAME_EXCHANGE) and flips a mode through the FUSE
// mount. Every answer must be a state the names were in: both always
// exist, each with one of its inode's own attributes, never the name of
// one with the type, owner or size of the other.
func TestRunViewUnderChange(t *testing.T) {
	testutil.RequirePrivileged(t)
	watch := cHelper(t, "flview")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	x, y := filepath.Join(dir, "x"), filepath.Join(dir, "y")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(y, []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(y, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	var dst, fst unix.Stat_t
	if err := unix.Lstat(x, &dst); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(y, &fst); err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, p := range []string{x, y} {
		for _, m := range []int{0o755, 0o711} {
			ok[fmt.Sprintf("%s 0 0 %d %o %o 0 0", p, dst.Ino, unix.S_IFDIR, m)] = true
		}
		ok[fmt.Sprintf("%s 0 0 %d %o %o 1000 5", p, fst.Ino, unix.S_IFREG, 0o640)] = true
	}
	beforeFast := notified(t, runtime, dir, "newfstatat@fast")
	var stop atomic.Bool
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := unix.Renameat2(unix.AT_FDCWD, x, unix.AT_FDCWD, y, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchange: %v", err)
				return
			}
			// The directory is x or y now; chmod both names' dir.
			for _, p := range []string{x, y} {
				var st unix.Stat_t
				if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
					unix.Chmod(p, []uint32{0o755, 0o711}[i%2])
				}
			}
			swaps.Add(1)
		}
	}()
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{watch, "watch", "20000", x, y})...)
	stop.Store(true)
	wg.Wait()
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "\t")
		if !ok[f[0]] {
			t.Errorf("an answer no state gave: %q", l)
		}
	}
	fast := notified(t, runtime, dir, "newfstatat@fast") - beforeFast
	if fast < 20000 || swaps.Load() == 0 {
		t.Errorf("%d answers by the fast lane for 40000 stats, %d swaps", fast, swaps.Load())
	}
	t.Logf("%d swaps; answers:\n%s", swaps.Load(), out)
}

// TestRunViewWriteAccessAndRoot: access(W_OK), and the stat family and
// access of the mount root itself, through every path shape, answer what
// the kernel answers in a tmpfs (fastlane/testdata/flaccess.c, with the
// root's mode changed under it and a program that is being executed), and
// the metadata view answers them in the process: N access(W_OK) of a file
// every credential may write and N stats of the root leave no event of
// the channel in the ring, and are counted as door fast.
func TestRunViewWriteAccessAndRoot(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flaccess")
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(helper, ref).Output()
	if err != nil {
		t.Fatalf("flaccess natively: %v\n%s", err, want)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, dir})...)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if d := lineDiff(string(want), out); d != "" {
		t.Errorf("differs from the kernel without btfuse (-kernel +run):\n%s", d)
	}

	// The same again in a fresh directory tree, then the loop.
	for _, name := range []string{"sub", "open", "closed", "f", "g", "h", "x", "l", "lh", "exe"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	seg := ringOf(t, runtime, dir)
	cur := seg.Cursor(false)
	const n = 1000
	beforeAccess := notified(t, runtime, dir, "faccessat2@fast")
	beforeStat := notified(t, runtime, dir, "newfstatat@fast")
	code, out, errOut = runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, dir, fmt.Sprint(n)})...)
	if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("loop ok=%d\n", 2*n)) {
		t.Fatalf("exit %d, stdout ends %q, stderr %q", code, out[max(0, len(out)-40):], errOut)
	}
	if got := notified(t, runtime, dir, "faccessat2@fast") - beforeAccess; got < n {
		t.Errorf("%d access(W_OK): %d counted for door fast", n, got)
	}
	if got := notified(t, runtime, dir, "newfstatat@fast") - beforeStat; got < n {
		t.Errorf("%d stats of the root: %d counted for door fast", n, got)
	}
	// The channel's answers leave events, the view's do not: the setup
	// before the loop makes fewer than 100 of each op.
	ev := ringOps(t, cur)
	for _, op := range []string{"faccessat2", "newfstatat"} {
		if ev[op] > 100 {
			t.Errorf("%d calls of %s in the loop: %d events of the channel or the seccomp lane in the ring; want the view's answers", n, op, ev[op])
		}
	}
}

// TestRunViewWriteAccessReadOnly: access(W_OK) is EROFS on a read-only
// mount (fs/open.c:do_faccessat()), which the metadata view cannot see:
// the daemon clears the view's usable flag while the mount is read-only,
// and W_OK is 0 again once it is writable.
func TestRunViewWriteAccessReadOnly(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "flaccess")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o666); err != nil {
		t.Fatal(err)
	}
	const n = 500
	w := func(count int) string {
		t.Helper()
		code, out, errOut := runIn(t, runtime, []string{"BTFUSE_FAST_AFTER=0"}, withMount(dir, []string{helper, "w", fmt.Sprint(count), f})...)
		if code != 0 {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		return out
	}
	// until runs w(1) until it says want (the daemon follows the mount
	// table as it changes), then w(n), which must say it n times.
	until := func(want string) {
		t.Helper()
		for i := 0; w(1) != fmt.Sprintf(want, 1); i++ {
			if i == 100 {
				t.Fatalf("access(W_OK) never answered %q", fmt.Sprintf(want, 1))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := w(n); got != fmt.Sprintf(want, n) {
			t.Errorf("%d access(W_OK): %q, want %q", n, got, fmt.Sprintf(want, n))
		}
	}
	until("W_OK ok=%d erofs=0 other=0\n")
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	remounted := true
	t.Cleanup(func() {
		if remounted {
			unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND, "")
		}
	})
	until("W_OK ok=0 erofs=%d other=0\n")
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		t.Fatalf("remount writable: %v", err)
	}
	remounted = false
	until("W_OK ok=%d erofs=0 other=0\n")
}

// ringOps counts the events from c of the fast and seccomp lanes, by op.
func ringOps(tb testing.TB, c *shmring.Cursor) map[string]int {
	tb.Helper()
	got := map[string]int{}
	ringEach(tb, c, func(r *shmring.Record) {
		if r.Door == event.DoorFast || r.Door == event.DoorRun {
			got[r.Op.String()]++
		}
	})
	return got
}

// daemonWithFile starts a daemon on a fresh mount and writes data to its
// a/b/file, whose path it returns with the mount's and the runtime's.
func daemonWithFile(t *testing.T, data []byte) (dir, runtime, under string) {
	t.Helper()
	dir, runtime = mountDirs(t)
	startDaemon(t, runtime, dir)
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	under = filepath.Join(dir, "a/b/file")
	if err := os.WriteFile(under, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, runtime, under
}
