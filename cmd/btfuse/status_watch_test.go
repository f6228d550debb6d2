package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// status --watch into a pipe writes one report after another, each under
// a header line, with no terminal escape codes; it stops on SIGINT and
// exits 0.
func TestE2EStatusWatch(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startMirroredDaemon(t, runtime, dir)

	w := btfuse(runtime, "status", "--watch", "--interval", "50ms")
	out, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	w.Stderr = &errOut
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once w is waited for; waitErr is set
	t.Cleanup(func() {
		w.Process.Kill()
		<-exited
	})
	frames := make(chan string, 64)
	go func() {
		// Each frame starts with its header line.
		sc := bufio.NewScanner(out)
		sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
			const clear = "--- btfuse status at "
			if len(data) == 0 {
				return 0, nil, nil
			}
			if i := bytes.Index(data[1:], []byte(clear)); i >= 0 {
				return i + 1, data[:i+1], nil
			}
			if atEOF && len(data) > 0 {
				return len(data), data, nil
			}
			return 0, nil, nil
		})
		for sc.Scan() {
			frames <- sc.Text()
		}
		close(frames)
		io.Copy(io.Discard, out)
		waitErr = w.Wait()
		close(exited)
	}()
	deadline := time.After(30 * time.Second) // hang guard
	for n := 0; n < 3; {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("status --watch ended after %d frames; stderr %q", n, errOut.String())
			}
			if !strings.Contains(f, dir) || !strings.HasPrefix(f, "--- btfuse status at ") || strings.Contains(f, "\033") {
				t.Errorf("frame %d does not name %s under its header, or holds an escape code:\n%q", n, dir, f)
			}
			n++
		case <-deadline:
			t.Fatalf("status --watch drew %d frames in 30 s", n)
		}
	}
	w.Process.Signal(syscall.SIGINT)
	for range frames {
	}
	<-exited
	if waitErr != nil {
		t.Errorf("status --watch after SIGINT: %v; stderr %q", waitErr, errOut.String())
	}
	d.stop(t)
}

// TestE2EStatusWatchTerminal: on a terminal, status --watch redraws in
// place (home, clear screen) before each report.
func TestE2EStatusWatchTerminal(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	startMirroredDaemon(t, runtime, dir)
	master, slave := openPTY(t)
	w := btfuse(runtime, "status", "--watch", "--interval", "50ms")
	w.Stdout, w.Stderr = slave, slave
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan struct{})
	t.Cleanup(func() {
		w.Process.Kill()
		<-done
	})
	go func() {
		w.Wait()
		close(done)
	}()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	master.SetReadDeadline(time.Now().Add(30 * time.Second)) // hang guard
	for strings.Count(got.String(), "\033[H\033[2J") < 2 {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read the terminal: %v; so far %q", err, got.String())
		}
		got.Write(buf[:n])
	}
	if !strings.Contains(got.String(), dir) || strings.Contains(got.String(), "--- btfuse status at") {
		t.Errorf("terminal output %q", got.String())
	}
}

// openPTY opens a pseudo-terminal pair; both ends are closed at cleanup.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// An embedded 'btfuse run' (no daemon at its directory) registers and
// mirrors: status and trace run from inside it see its operations by path
// and thread group, and it leaves no registry entry or segment behind.
func TestE2EEmbeddedStatusTrace(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	tmp := t.TempDir()
	script := `
"$SELF" trace --json "$BTFUSE_MOUNT" >"$OUT/trace" 2>"$OUT/trace.err" &
tr=$!
i=0; until grep -q following "$OUT/trace.err"; do i=$((i+1)); [ $i -lt 300 ] || exit 3; sleep 0.1; done
echo x > "$BTFUSE_MOUNT/emb"
cat "$BTFUSE_MOUNT/emb-missing" 2>/dev/null
echo $$ > "$OUT/shpid"
i=0; until grep -q emb-missing "$OUT/trace"; do i=$((i+1)); [ $i -lt 300 ] || exit 4; sleep 0.1; done
kill -INT $tr; wait $tr || exit 5
exec "$SELF" status --json "$BTFUSE_MOUNT"
`
	// --no-fast-lane: the door run checked below is the seccomp lane's (see
	// TestE2EStatusJSON).
	cmd := btfuse(runtime, "run", "--no-fast-lane", "--mount", dir, "--", "sh", "-c", script)
	cmd.Env = append(cmd.Env, "SELF="+os.Args[0], "OUT="+tmp)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(tmp, "trace.err"))
			t.Fatalf("btfuse run: %v; stderr %q; trace stderr %q", err, errOut.String(), b)
		}
	case <-time.After(60 * time.Second): // hang guard
		cmd.Process.Kill()
		<-done
		t.Fatal("btfuse run did not finish")
	}

	var reps []daemonStatus
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil || len(reps) != 1 {
		t.Fatalf("status --json inside the run printed %q (%v)", out.String(), err)
	}
	st := reps[0]
	if st.Mount != dir || st.Error != "" || st.Ring == nil || st.Segment == "" {
		t.Errorf("status of the embedded run: %+v", st)
	}
	// The shell's "> emb" is an open for writing, which the fast lane
	// serves from the first call; cat's is the seccomp lane's.
	if o, f := st.Ops["openat"], st.Ops["openat@fast"]; o.Door != "run" || o.Served+o.Expected+f.Served == 0 {
		t.Errorf("openat %+v, openat@fast %+v (ops %v)", o, f, st.Ops)
	}
	if _, err := os.Stat(st.Segment); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("segment %s left after the run: %v", st.Segment, err)
	}
	// Other tests' stale mounts may be listed too (status finds them in
	// the mount table); this run's own must be gone.
	code, after, _ := runBtfuse(t, runtime, "status", "--json")
	reps = nil
	if err := json.Unmarshal([]byte(after), &reps); code != 0 || err != nil {
		t.Fatalf("status after the run: exit %d, %q (%v)", code, after, err)
	}
	for _, r := range reps {
		if r.Mount == dir {
			t.Errorf("status after the run still lists its mount: %+v", r)
		}
	}

	b, err := os.ReadFile(filepath.Join(tmp, "shpid"))
	if err != nil {
		t.Fatal(err)
	}
	shpid := strings.TrimSpace(string(b))
	want := map[string]bool{"/emb": false, "/emb-missing": false}
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(tmp, "trace"))), "\n") {
		var ev traceEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("trace printed %q: %v", l, err)
		}
		for suffix := range want {
			if (ev.Door == "run" || ev.Door == "fast") && ev.Op == "openat" && ev.Path == dir+suffix {
				if suffix == "/emb-missing" && ev.Errno != "ENOENT" {
					t.Errorf("event %+v, want ENOENT", ev)
				}
				if ev.Tid == 0 || ev.Tgid == 0 || ev.Mount != dir {
					t.Errorf("event %+v", ev)
				}
				if suffix == "/emb-missing" && itoa32(ev.Tgid) == shpid {
					t.Errorf("cat's open reported with the shell's tgid %s", shpid)
				}
				want[suffix] = true
			}
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("no openat of %s traced", p)
		}
	}
}

func readFile(tb testing.TB, p string) string {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func itoa32(v int32) string {
	b, _ := json.Marshal(v)
	return string(b)
}
