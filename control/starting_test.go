package control

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLookupWaitsForStartingDaemon: a daemon holds its entry from the
// moment it claims it, but publishes its Info only once its control socket
// listens, after its mount has become visible. A Lookup in between must
// wait for the Info, not report that nobody serves the mount (a 'btfuse
// run --mount' would then try to mount a second filesystem there).
func TestLookupWaitsForStartingDaemon(t *testing.T) {
	r := openRegistry(t)
	c, err := r.Claim("/mnt/s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	type result struct {
		e   Entry
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := r.Lookup(testCtx(t), "/mnt/s")
		done <- result{e, err}
	}()
	time.Sleep(50 * time.Millisecond) // let Lookup find the entry unpublished (it passes either way)
	s, err := Listen(c.SocketPath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Close() })
	if err := c.Publish(Info{PID: os.Getpid(), Start: time.Now(), Version: "test"}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || res.e.PID != os.Getpid() || res.e.Err != nil {
		t.Fatalf("Lookup of a starting daemon: %+v, %v; want its entry", res.e, res.err)
	}
}

// TestLookupStartingBounded: a daemon that never publishes is waited for
// only as long as the caller's context allows (and at most StartWait); the
// lock file names it.
func TestLookupStartingBounded(t *testing.T) {
	r := openRegistry(t)
	c, err := r.Claim("/mnt/s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := r.Lookup(ctx, "/mnt/s"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lookup of a daemon that never publishes: %v, want the context's deadline", err)
	}
	if pid := r.lockPID(Key("/mnt/s")); pid != os.Getpid() {
		t.Errorf("lock file names pid %d, want %d", pid, os.Getpid())
	}
	msg := (&StartingError{Mount: "/mnt/s", PID: 7}).Error()
	if !strings.Contains(msg, "pid 7") || !strings.Contains(msg, "/mnt/s") {
		t.Errorf("StartingError says %q", msg)
	}
	// List skips it without an error.
	if l, err := r.List(context.Background()); err != nil || len(l) != 0 {
		t.Errorf("List with a starting daemon: %v, %v; want nothing", l, err)
	}
}
