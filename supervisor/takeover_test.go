package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

func init() {
	moreHelpers["getppid"] = getppidHelper
}

// getppidHelper makes notified getppid calls as BTFUSE_GETPPID says:
// "once", "twice" (one after the other), or "threads" (one from a locked
// thread while the main thread calls every few milliseconds until it has
// returned). Every call must return the real parent: a continued call.
func getppidHelper(string) []string {
	var fails []string
	check := func(r uintptr) {
		if r == 0 || r == ^uintptr(0) {
			fails = append(fails, fmt.Sprintf("getppid returned %d", int(r)))
		}
	}
	call := func() uintptr {
		r, _, _ := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		return r
	}
	switch mode := os.Getenv("BTFUSE_GETPPID"); mode {
	case "once":
		check(call())
	case "twice":
		check(call())
		check(call())
	case "threads":
		done := make(chan uintptr)
		go func() {
			runtime.LockOSThread()
			done <- call()
		}()
		for {
			select {
			case r := <-done:
				check(r)
				return fails
			case <-time.After(5 * time.Millisecond):
				check(call())
			}
		}
	default:
		fails = append(fails, "unknown BTFUSE_GETPPID "+mode)
	}
	return fails
}

// fakeDaemon plays a daemon that dies with a notification received and
// not answered: it receives (and answers with CONTINUE) skip
// notifications of fd, then receives one more and closes fd without
// answering it. Each id received goes on board, the last one only if
// publishLast. It returns once fd is closed.
func fakeDaemon(t *testing.T, fd int, board *Board, skip int, publishLast bool) {
	var n notif
	recv := func() {
		for {
			switch e := notifRecv(fd, &n); e {
			case 0:
				return
			case unix.EINTR, unix.ENOENT:
				continue
			default:
				t.Errorf("receive: %v", e)
				return
			}
		}
	}
	for range skip {
		recv()
		board.publish(0, n.ID)
		r := notifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		if e := notifSend(fd, &r); e != 0 {
			t.Errorf("send: %v", e)
		}
	}
	recv()
	if publishLast {
		board.publish(1, n.ID)
	}
	unix.Close(fd)
}

// TestTakeOver: a daemon dies holding a notification it received and did
// not answer (state SENT), which the kernel keeps pending as long as a
// copy of the listener is open. TakeOver, on that copy, must find it and
// continue it, and every later notification too: on the board; just above
// the highest id on the board (the daemon died between its receive and
// its store); with an empty board, just under the first id TakeOver
// receives itself (another thread of the target calls again). Without
// TakeOver the target would wait forever: the hang guard kills it.
func TestTakeOver(t *testing.T) {
	testutil.RequirePrivileged(t) // NEW_LISTENER without NO_NEW_PRIVS needs CAP_SYS_ADMIN
	for _, tc := range []struct {
		name        string
		mode        string
		skip        int
		publishLast bool
	}{
		{"on the board", "once", 0, true},
		{"above the board", "twice", 1, false},
		{"empty board", "threads", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var continued, pending uint64
			serve := func(fd, _, _ int) func() {
				keep, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				runSide, err := NewBoard()
				if err != nil {
					t.Fatal(err)
				}
				// The daemon maps the same page from the file it was sent.
				dup, err := unix.FcntlInt(runSide.File().Fd(), unix.F_DUPFD_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				daemonSide, err := OpenBoard(os.NewFile(uintptr(dup), "board"))
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					defer unix.Close(keep)
					defer runSide.Close()
					fakeDaemon(t, fd, daemonSide, tc.skip, tc.publishLast)
					daemonSide.Close()
					continued, pending = TakeOver(keep, runSide, nil)
				}()
				return func() { <-done }
			}
			code, out := runServedGuarded(t, []string{os.Args[0]},
				[]string{"BTFUSE_TEST_HELPER=getppid", "BTFUSE_GETPPID=" + tc.mode}, getppidFilter(), serve)
			if code != 0 {
				t.Fatalf("target: exit %d: %s", code, out)
			}
			if pending != 1 || continued < 1 {
				t.Errorf("TakeOver continued %d notifications, %d of them pending; want the 1 pending", continued, pending)
			}
		})
	}
}

// runServedGuarded is runServed with the target killed if it runs for a
// minute (a hang guard, not a timing assertion): a notification nobody
// answers keeps it waiting forever.
func runServedGuarded(t *testing.T, argv, env []string, filter []unix.SockFilter, serve func(fd, base, size int) func()) (int, string) {
	t.Helper()
	timer := time.AfterFunc(time.Minute, func() {
		t.Errorf("target still waiting after a minute: killing it")
		killHelpers(t)
	})
	defer timer.Stop()
	return runServed(t, argv, env, filter, serve)
}

// killHelpers kills this test binary's children that run a helper.
func killHelpers(t *testing.T) {
	ents, _ := os.ReadDir("/proc")
	self := fmt.Sprint(os.Getpid())
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 1 && f[1] == self {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// TestServeBoardPublishes: the supervisor's receivers put the id of each
// notification they receive on the board, one slot per receiver thread.
func TestServeBoardPublishes(t *testing.T) {
	s := startSupervised(t)
	b, err := NewBoard()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	serve := func(fd, base, size int) func() {
		done := make(chan error, 1)
		go func() { done <- s.sup.ServeWith(fd, ServeOptions{Base: base, Size: size, Board: b}) }()
		return func() {
			if err := <-done; err != nil {
				t.Errorf("ServeBoard: %v", err)
			}
		}
	}
	code, out := runServedGuarded(t, []string{"sh", "-c", `for i in 1 2 3 4 5; do [ -e "$BTFUSE_MOUNT/x" ]; done`},
		[]string{MountEnv + "=" + s.mount}, nil, serve)
	if code != 1 {
		t.Fatalf("target: exit %d, want 1 (x does not exist): %s", code, out)
	}
	ids := b.ids()
	if len(ids) == 0 || len(ids) > s.sup.receivers {
		t.Fatalf("board holds %d ids, want 1 to %d (one per receiver)", len(ids), s.sup.receivers)
	}
}

// TestOpenBoardRefuses: a daemon maps only a memory file that can never
// shrink under its mapping (a store past the end would be SIGBUS).
func TestOpenBoardRefuses(t *testing.T) {
	plain, err := os.CreateTemp(t.TempDir(), "board")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Truncate(boardSize)
	if b, err := OpenBoard(plain); err == nil {
		b.Close()
		t.Error("a regular file was accepted as a board")
	}
	fd, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	unsealed := os.NewFile(uintptr(fd), "unsealed")
	defer unsealed.Close()
	unsealed.Truncate(boardSize)
	if b, err := OpenBoard(unsealed); err == nil {
		b.Close()
		t.Error("a memory file that can shrink was accepted as a board")
	}
	unix.FcntlInt(unsealed.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
	small, _ := unix.MemfdCreate("small", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	smallF := os.NewFile(uintptr(small), "small")
	defer smallF.Close()
	unix.FcntlInt(uintptr(small), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
	if b, err := OpenBoard(smallF); err == nil {
		b.Close()
		t.Error("an empty memory file was accepted as a board")
	}
	b, err := OpenBoard(unsealed)
	if err != nil {
		t.Fatalf("a sealed page: %v", err)
	}
	b.publish(3, 42)
	if ids := b.ids(); len(ids) != 1 || ids[0] != 42 {
		t.Errorf("ids %v, want [42]", ids)
	}
	b.f = nil // unsealed is closed by its defer
	unix.Munmap(b.mem)
}

// BenchmarkBoardPublish measures what the board adds to each notification
// a receiver takes: one store into the shared page.
func BenchmarkBoardPublish(b *testing.B) {
	board, err := NewBoard()
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	for i := range b.N {
		board.publish(1, uint64(i))
	}
}
