package supervisor

import (
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeRaisesProcs: while a listener is served, GOMAXPROCS is one
// more, for its receiver that waits keeping its P (procs.go); after
// Serve returns it is what it was.
func TestServeRaisesProcs(t *testing.T) {
	s := startSupervised(t)
	before := runtime.GOMAXPROCS(0)
	var during atomic.Int64
	s.sup.onAnswer = func(nr int32, path string, r result) { during.Store(int64(runtime.GOMAXPROCS(0))) }
	if code, _, errs := s.run(t, []string{"/bin/true"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := during.Load(); got != int64(before+1) {
		t.Errorf("GOMAXPROCS while serving: %d, want %d", got, before+1)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after serving: %d, want %d again", got, before)
	}
}

// TestStopTheWorldWhileReceiverWaits: a receiver that waits in RECV
// keeping its P (after a notification, with none since) does not hold up
// the garbage collector's stop of the world, which interrupts the wait;
// the target is served on afterwards. A collector that waited for the
// next notification would hang here, which the watchdog turns into a
// failure.
func TestStopTheWorldWhileReceiverWaits(t *testing.T) {
	if !holdP {
		t.Skip("GODEBUG=asyncpreemptoff=1: receivers never wait keeping their P")
	}
	s := startSupervised(t)
	f := filepath.Join(s.mount, "f")
	notified := make(chan struct{}, 1)
	s.sup.onAnswer = func(nr int32, path string, r result) {
		if path == f {
			select {
			case notified <- struct{}{}:
			default:
			}
		}
	}
	gcs := make(chan int, 1)
	go func() {
		<-notified
		// The target sleeps now, and its receiver waits in RECV.
		time.Sleep(100 * time.Millisecond)
		n := 0
		for ; n < 5; n++ {
			runtime.GC()
		}
		gcs <- n
	}()
	// The shell's stat of f notifies; sleep (a builtin-free exec, one
	// notification at its start) then makes none for a second; the cat
	// after it is served by the same receiver.
	script := `test -e ` + f + `; sleep 1; echo hi > ` + f + `; cat ` + f
	done := make(chan struct{})
	var code int
	var out, errs string
	go func() {
		code, out, errs = s.run(t, []string{"sh", "-c", script})
		close(done)
	}()
	select {
	case n := <-gcs:
		t.Logf("%d collections while the receiver waited", n)
	case <-time.After(time.Minute):
		t.Fatal("runtime.GC did not return while a receiver waited in RECV")
	}
	<-done
	if code != 0 || out != "hi\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestWaitAverage: back-to-back notifications (short waits) keep the
// ordinary wait; a run of long waits (a process starting) holds the P,
// and short ones bring the ordinary wait back.
func TestWaitAverage(t *testing.T) {
	if !holdP {
		t.Skip("GODEBUG=asyncpreemptoff=1: receivers never wait keeping their P")
	}
	var w waitAverage
	for i := 0; i < 20; i++ {
		if w.next(5 * time.Microsecond) {
			t.Fatalf("held after %d waits of 5 us (average %v)", i+1, w.avg)
		}
	}
	held := false
	for i := 0; i < 3 && !held; i++ {
		held = w.next(time.Millisecond)
	}
	if !held {
		t.Fatalf("not held after three waits of 1 ms (average %v)", w.avg)
	}
	for i := 0; i < 20 && held; i++ {
		held = w.next(5 * time.Microsecond)
	}
	if held {
		t.Errorf("still held after 20 waits of 5 us (average %v)", w.avg)
	}
}

// TestAddProcsCapped: listeners beyond the machine's CPUs add no more Ps,
// and GOMAXPROCS is what it was once they are all gone.
func TestAddProcsCapped(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	n := runtime.NumCPU() + 3
	for i := 0; i < n; i++ {
		addProcs(1)
	}
	if got, want := runtime.GOMAXPROCS(0), before+runtime.NumCPU(); got != want {
		t.Errorf("GOMAXPROCS with %d listeners: %d, want %d", n, got, want)
	}
	for i := 0; i < n; i++ {
		addProcs(-1)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after: %d, want %d", got, before)
	}
}
