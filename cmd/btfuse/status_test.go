package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/shmring"
)

func TestStatusNoDaemon(t *testing.T) {
	runtime := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runBtfuse(t, runtime, "status")
	if code != 0 || !strings.Contains(out, "no btfuse daemon is running") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runBtfuse(t, runtime, "status", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("status --json: exit %d, stdout %q", code, out)
	}
}

// A segment that is not btfuse's is reported, not fatal.
func TestStatusForeignSegment(t *testing.T) {
	p := filepath.Join(t.TempDir(), "btfuse-foreign")
	if err := os.WriteFile(p, []byte("not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := statusOf(control.Entry{Info: control.Info{Mount: "/m", PID: 1, Shm: p}})
	if d.Mount != "/m" || !strings.Contains(d.Error, "not a btfuse segment") || d.Ring != nil {
		t.Errorf("status of a foreign segment: %+v", d)
	}
}

// Operations through both doors show up in status --json.
func TestE2EStatusJSON(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startMirroredDaemon(t, runtime, dir)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-ec",
		`cat "$BTFUSE_MOUNT/f"; cd "$BTFUSE_MOUNT"; mkdir d; chmod 700 d; mv d e; rmdir e`); code != 0 || out != "x" {
		t.Fatalf("btfuse run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := runBtfuse(t, runtime, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d, stderr %q", code, errOut)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("status --json printed %q (%v)", out, err)
	}
	for _, k := range []string{"mount", "pid", "inodes", "bytes", "ops", "ring"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("key %q missing from %s", k, out)
		}
	}
	var reps []daemonStatus
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatal(err)
	}
	st := reps[0]
	if st.Mount != dir || st.PID == 0 || st.Error != "" || st.Ring == nil || st.Ring.Written == 0 {
		t.Errorf("status %+v", st)
	}
	if o := st.Ops["CREATE"]; o.Served == 0 || o.Door != "fuse" || o.P50us <= 0 || o.P99us < o.P50us {
		t.Errorf("CREATE %+v", o)
	}
	if o := st.Ops["openat"]; o.Served == 0 || o.Door != "run" {
		t.Errorf("openat %+v (ops %v)", o, st.Ops)
	}
	// Every syscall has its own name, served or CONTINUEd (chdir).
	if o, ok := st.Ops["syscall"]; ok {
		t.Errorf("syscalls without a name of their own: %+v (ops %v)", o, st.Ops)
	}
	for _, alts := range [][]string{{"chdir"}, {"mkdir", "mkdirat"}, {"chmod", "fchmodat"}, {"rename", "renameat", "renameat2"}, {"rmdir", "unlinkat"}} {
		found := false
		for _, n := range alts {
			found = found || st.Ops[n].Door == "run"
		}
		if !found {
			t.Errorf("none of %v in status (ops %v)", alts, st.Ops)
		}
	}
	// The human table names the mount and the ops.
	code, out, _ = runBtfuse(t, runtime, "status", dir)
	if code != 0 || !strings.Contains(out, dir) || !strings.Contains(out, "CREATE") || !strings.Contains(out, "openat") {
		t.Errorf("status %s: exit %d, stdout:\n%s", dir, code, out)
	}
	d.stop(t)
}

// trace shows operations of both doors with op, path and errno.
func TestE2ETrace(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startMirroredDaemon(t, runtime, dir)

	tr := btfuse(runtime, "trace", dir, "--json")
	stdout, err := tr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := tr.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		tr.Process.Kill()
		<-exited
	})
	errLines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errLines <- sc.Text()
		}
		close(errLines)
	}()
	events := make(chan traceEvent, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev traceEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("trace printed %q: %v", sc.Text(), err)
				continue
			}
			events <- ev
		}
		close(events)
		exited <- tr.Wait()
	}()
	select {
	case l := <-errLines:
		if !strings.Contains(l, "following "+dir) {
			t.Fatalf("trace said %q", l)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("trace did not start")
	}

	if err := os.WriteFile(filepath.Join(dir, "traced"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Stat(filepath.Join(dir, "traced-missing"))
	if code, _, errOut := runBtfuse(t, runtime, "run", "--mount", dir, "--", "sh", "-c",
		`cat "$BTFUSE_MOUNT/traced"; cat "$BTFUSE_MOUNT/run-missing"; true`); code != 0 {
		t.Fatalf("btfuse run: exit %d, stderr %q", code, errOut)
	}

	want := []struct {
		door, op, pathSuffix, errno string
	}{
		{"fuse", "CREATE", "traced", ""},
		{"fuse", "LOOKUP", "traced-missing", "ENOENT"},
		{"run", "openat", dir + "/traced", ""},
		{"run", "openat", dir + "/run-missing", "ENOENT"},
	}
	found := make([]bool, len(want))
	deadline := time.After(30 * time.Second) // hang guard
	for left := len(want); left > 0; {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("trace ended early")
			}
			for i, w := range want {
				if !found[i] && ev.Door == w.door && ev.Op == w.op && strings.HasSuffix(ev.Path, w.pathSuffix) && ev.Errno == w.errno {
					if ev.Tid == 0 || ev.Mount != dir {
						t.Errorf("event %+v", ev)
					}
					found[i] = true
					left--
				}
			}
		case <-deadline:
			t.Fatalf("not traced: %+v (found %v)", want, found)
		}
	}
	tr.Process.Signal(syscall.SIGINT)
	for range events {
	}
	var sum string
	for l := range errLines {
		sum = l
	}
	if err := <-exited; err != nil {
		t.Errorf("trace exit: %v", err)
	}
	exited <- nil // for the cleanup
	if !strings.Contains(sum, "events") || !strings.Contains(sum, "missed") {
		t.Errorf("trace summary %q", sum)
	}
	d.stop(t)
}

// mirroredDaemon is a 'btfuse mount' whose segment is checked at the end.
type mirroredDaemon struct {
	*daemonProc
	shm string
}

// startMirroredDaemon starts 'btfuse mount'; at cleanup, after the daemon
// is gone (killed, if the test failed before stop), its segment is removed
// if it is left.
func startMirroredDaemon(tb testing.TB, runtime, dir string, extra ...string) *mirroredDaemon {
	tb.Helper()
	m := &mirroredDaemon{}
	tb.Cleanup(func() { // runs after startDaemon's cleanup
		if m.shm != "" {
			shmring.Sweep(filepath.Dir(m.shm))
		}
	})
	m.daemonProc = startDaemon(tb, runtime, dir, extra...)
	reg, err := control.Open(runtime)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := reg.Lookup(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	m.shm = e.Shm
	return m
}

// stop stops the daemon with SIGTERM and checks it removed its segment.
func (m *mirroredDaemon) stop(tb testing.TB) {
	tb.Helper()
	m.signal(tb, syscall.SIGTERM)
	if code := m.wait(tb); code != 0 {
		tb.Errorf("daemon exit %d", code)
	}
	if _, err := os.Stat(m.shm); !errors.Is(err, os.ErrNotExist) {
		tb.Errorf("segment %s left after the daemon stopped: %v", m.shm, err)
	}
}

// btfuse mount --metrics serves btfuse_ series read from the same counters.
func TestE2EMetrics(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, runtime := mountDirs(t)
	d := startMirroredDaemon(t, runtime, dir, "--metrics", "127.0.0.1:0")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr, ok := strings.Cut(d.out.String(), "metrics at ")
	addr, _, _ = strings.Cut(addr, "\n")
	if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
		t.Fatalf("daemon did not say where metrics are: %q", d.out)
	}
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`btfuse_operations_total{door="fuse",mount="` + dir + `",op="CREATE",outcome="served"} 1`,
		`btfuse_operation_duration_seconds_bucket{door="fuse",mount="` + dir + `",op="CREATE",outcome="served",le="+Inf"} 1`,
		`btfuse_inodes_capacity{mount="` + dir + `"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %s in /metrics", want)
		}
	}
	d.stop(t)
}
