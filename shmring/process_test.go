package shmring

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btfuse/btfuse/event"
)

// TestMain lets the test binary play a second process: a reader following
// a live segment, or a daemon that gets killed.
func TestMain(m *testing.M) {
	switch os.Getenv("SHMRING_TEST_ROLE") {
	case "reader":
		os.Exit(childReader(os.Getenv("SHMRING_TEST_PATH"), os.Getenv("SHMRING_TEST_TOTAL")))
	case "daemon":
		w, err := Create(os.Getenv("SHMRING_TEST_DIR"), "killed", "/m", 16)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		w.Observe(event.Event{Op: event.OpLookup, Path: "before death"})
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// childReader follows the segment until it has accounted for total events,
// checking every record it reads, and prints what it read and missed.
func childReader(path, totalStr string) int {
	total, _ := strconv.ParseUint(totalStr, 10, 64)
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	defer s.Close()
	c := s.Cursor(false)
	c.Poll(nil)
	fmt.Println("ready")
	var read uint64
	buf := make([]Record, 0, 256)
	deadline := time.Now().Add(time.Minute)
	for c.Next() < total || read+c.Missed < total {
		if time.Now().After(deadline) {
			fmt.Printf("timeout: read %d missed %d next %d\n", read, c.Missed, c.Next())
			return 4
		}
		recs, err := c.Poll(buf[:0])
		if err != nil {
			fmt.Println("poll:", err)
			return 2
		}
		for _, r := range recs {
			if r.Ino != uint64(r.Tid)*7 || r.Path != pathFor(r.Tid) || r.Op != event.OpWrite {
				fmt.Printf("torn record %+v\n", r)
				return 3
			}
		}
		read += uint64(len(recs))
		if len(recs) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	fmt.Printf("read %d missed %d\n", read, c.Missed)
	return 0
}

func selfCmd(tb testing.TB, env ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// startChild starts cmd and waits for its "ready" line; the child is killed
// and reaped at cleanup if still running.
func startChild(tb testing.TB, cmd *exec.Cmd) *bufio.Scanner {
	tb.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	reap := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	tb.Cleanup(reap)
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		reap()
		tb.Fatalf("child did not get ready: %q", sc.Text())
	}
	return sc
}

func TestReaderInAnotherProcess(t *testing.T) {
	const producers, each = 4, 25000
	w := mustWriter(t, 1024)
	cmd := selfCmd(t, "SHMRING_TEST_ROLE=reader", "SHMRING_TEST_PATH="+w.Path(),
		"SHMRING_TEST_TOTAL="+strconv.Itoa(producers*each))
	sc := startChild(t, cmd)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				tid := int32(p*each + i)
				w.Observe(event.Event{Op: event.OpWrite, Door: event.DoorFUSE, Tid: tid, Ino: uint64(tid) * 7, Path: pathFor(tid)})
			}
		})
	}
	wg.Wait()
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reader: %v: %q", err, lines)
	}
	var read, missed uint64
	if len(lines) != 1 {
		t.Fatalf("reader said %q", lines)
	}
	if _, err := fmt.Sscanf(lines[0], "read %d missed %d", &read, &missed); err != nil {
		t.Fatalf("reader said %q", lines)
	}
	if read+missed != producers*each || read == 0 {
		t.Errorf("reader read %d and missed %d of %d", read, missed, producers*each)
	}
	t.Logf("the other process read %d events live and missed %d", read, missed)
}

// The segment of a daemon killed with SIGKILL is recognised and removed.
func TestKilledDaemonSegment(t *testing.T) {
	dir := mustDir(t)
	cmd := selfCmd(t, "SHMRING_TEST_ROLE=daemon", "SHMRING_TEST_DIR="+dir)
	startChild(t, cmd)
	path := dir + "/" + Prefix + "killed"
	s := mustOpen(t, path)
	if !s.Alive() || s.Info().PID != cmd.Process.Pid {
		t.Fatalf("segment of a live daemon: alive %v, pid %d (want %d)", s.Alive(), s.Info().PID, cmd.Process.Pid)
	}
	if got := Sweep(dir); len(got) != 0 {
		t.Errorf("Sweep removed the live %v", got)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if s.Alive() {
		t.Errorf("segment of a killed daemon still alive")
	}
	w, err := Create(dir, "killed", "/m", 16)
	if err != nil {
		t.Fatalf("Create over the killed daemon's segment: %v", err)
	}
	defer w.Close()
	recs, _ := mustOpen(t, path).Cursor(true).Poll(nil)
	if len(recs) != 0 {
		t.Errorf("new segment holds old records %+v", recs)
	}
	if !strings.HasPrefix(w.Name(), Prefix) {
		t.Errorf("name %q", w.Name())
	}
}
