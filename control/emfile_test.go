package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestAcceptRecoversFromEMFILE fills the process's descriptor table while a
// client's connection waits to be accepted: the server must keep trying
// (it logs once) and answer the client once descriptors are free again,
// instead of disabling its control socket for good.
func TestAcceptRecoversFromEMFILE(t *testing.T) {
	logs := new(testutil.SyncBuffer)
	s, err := Listen(filepath.Join(t.TempDir(), "c.sock"), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Start()

	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	restore := func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &orig) }
	t.Cleanup(restore)
	var fill []*os.File
	release := func() {
		for _, f := range fill {
			f.Close()
		}
		fill = nil
	}
	t.Cleanup(release)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: uint64(len(fds)) + 64, Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, unix.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fill = append(fill, f)
		if len(fill) > int(low.Cur) {
			t.Fatal("no EMFILE under a lowered RLIMIT_NOFILE")
		}
	}
	// One descriptor for the client's end; the server's accept finds none.
	fill[len(fill)-1].Close()
	fill = fill[:len(fill)-1]
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.Path(), Net: "unix"})
	if err != nil {
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	c := &Client{conn: conn}
	t.Cleanup(func() { c.Close() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "accept failed"); {
		if time.Now().After(deadline) {
			t.Fatalf("the server never met EMFILE; log:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	restore()
	if _, err := c.Call(testCtx(t), OpPing, nil, nil, nil); err != nil {
		t.Fatalf("ping once descriptors were free again: %v; log:\n%s", err, logs)
	}
	if strings.Contains(logs.String(), "disabled") {
		t.Errorf("the control socket was disabled; log:\n%s", logs)
	}
}

// TestCallWithoutDeadlineTimesOut: a daemon that takes the connection but
// never answers (hung, or out of descriptors) must not hold a command
// forever; the error says what happened.
func TestCallWithoutDeadlineTimesOut(t *testing.T) {
	defer func(d time.Duration) { defaultTimeout = d }(defaultTimeout)
	defaultTimeout = 300 * time.Millisecond
	path := filepath.Join(t.TempDir(), "mute.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // never accepts: the kernel queues the connection
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), OpUmount, nil, nil, nil)
		done <- err
	}()
	select {
	case err := <-done:
		var na *NoAnswerError
		if !errors.As(err, &na) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `did not answer "umount"`) {
			t.Errorf("Call to a daemon that never answers: %v, want a *NoAnswerError naming the op", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Call without a deadline waited for a mute daemon for a minute")
	}
}
