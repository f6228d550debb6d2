package main

import (
	"bufio"
	"context"
	"encoding/base64"
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
	"unicode/utf8"

	"golang.org/x/sys/unix"

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
	// Stale mounts are listed too, and other tests on this machine may
	// leave one for a moment: only those may be there.
	code, out, _ = runBtfuse(t, runtime, "status", "--json")
	var reps []struct{ State string }
	if err := json.Unmarshal([]byte(out), &reps); code != 0 || err != nil {
		t.Errorf("status --json: exit %d, stdout %q", code, out)
	}
	for _, r := range reps {
		if r.State != "stale" {
			t.Errorf("status --json without a daemon lists %q: %s", r.State, out)
		}
	}
	// Asked about one directory, status fails when nothing serves it.
	dir := t.TempDir()
	code, out, errOut = runBtfuse(t, runtime, "status", dir)
	if code != 1 || !strings.Contains(errOut, "no btfuse daemon serves "+dir) {
		t.Errorf("status DIR: exit %d, stdout %q, stderr %q; want 1 and no btfuse daemon serves", code, out, errOut)
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
	os.Stat(filepath.Join(dir, "missing"))                   // ENOENT: an expected answer
	unix.Getxattr(filepath.Join(dir, "f"), "user.none", nil) // ENODATA: another
	// --no-fast-lane: the door run checked below is the seccomp lane's; the
	// fast lane answers as door fast once a process makes more calls under
	// the mount than BTFUSE_FAST_AFTER (its own tests check that door).
	if code, out, errOut := runBtfuse(t, runtime, "run", "--no-fast-lane", "--mount", dir, "--", "sh", "-ec",
		`cat "$BTFUSE_MOUNT/f"; cd "$BTFUSE_MOUNT"; mkdir d; chmod 700 d; mv d e; rmdir e; ls missing 2>/dev/null || true`); code != 0 || out != "x" {
		t.Fatalf("btfuse run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := runBtfuse(t, runtime, "status", "--json", dir)
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
	// Answers to questions are not failures.
	for _, op := range []string{"LOOKUP", "GETXATTR"} {
		if o := st.Ops[op]; o.Expected == 0 || o.Errors != 0 {
			t.Errorf("%s %+v: want its ENOENT/ENODATA counted as expected, not as errors", op, o)
		}
	}
	var runExpected uint64
	for _, n := range []string{"newfstatat", "statx", "stat", "lstat"} {
		runExpected += st.Ops[n].Expected
		if st.Ops[n].Errors != 0 {
			t.Errorf("%s %+v: ENOENT counted as an error", n, st.Ops[n])
		}
	}
	if runExpected == 0 {
		t.Errorf("ls of a missing name under run: no expected ENOENT counted (ops %v)", st.Ops)
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
	// A name that is not UTF-8 travels in path_b64, byte for byte.
	badName := "bad-\xff\xfe-name"
	if err := os.WriteFile(filepath.Join(dir, badName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// --no-fast-lane: the events of door run expected below are the
	// seccomp lane's (see TestE2EStatusJSON).
	if code, _, errOut := runBtfuse(t, runtime, "run", "--no-fast-lane", "--mount", dir, "--", "sh", "-c",
		`cat "$BTFUSE_MOUNT/traced"; cat "$BTFUSE_MOUNT/run-missing"; mkdir "$BTFUSE_MOUNT/d"; mkdir "$BTFUSE_MOUNT/d"; true`); code != 0 {
		t.Fatalf("btfuse run: exit %d, stderr %q", code, errOut)
	}

	// A lookup of what is not there, and an exclusive create of what
	// is, are expected answers, not failures.
	want := []struct {
		door, op, pathSuffix, errno, outcome string
	}{
		{"fuse", "CREATE", "traced", "", "served"},
		{"fuse", "LOOKUP", "traced-missing", "ENOENT", "expected"},
		{"fuse", "CREATE", badName, "", "served"},
		{"run", "openat", dir + "/traced", "", "served"},
		{"run", "openat", dir + "/run-missing", "ENOENT", "expected"},
		{"run", "mkdir", dir + "/d", "EEXIST", "expected"},
	}
	found := make([]bool, len(want))
	deadline := time.After(30 * time.Second) // hang guard
	for left := len(want); left > 0; {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("trace ended early")
			}
			path := ev.Path
			if ev.PathB64 != "" {
				b, err := base64.StdEncoding.DecodeString(ev.PathB64)
				if err != nil || utf8.Valid(b) || !strings.Contains(ev.Path, `\xff\xfe`) {
					t.Errorf("path_b64 %q (%v) of path %q: want the bytes of a name that is not UTF-8, shown with \\x escapes", ev.PathB64, err, ev.Path)
				}
				path = string(b)
			}
			for i, w := range want {
				if !found[i] && ev.Door == w.door && (ev.Op == w.op || w.op == "mkdir" && ev.Op == "mkdirat") && strings.HasSuffix(path, w.pathSuffix) && ev.Errno == w.errno {
					if ev.Tid == 0 || ev.Mount != dir || ev.Outcome != w.outcome {
						t.Errorf("event %+v, want outcome %s", ev, w.outcome)
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

// TestE2EStatusStates: status says whether each daemon answers, lists the
// mount of a killed daemon as stale, and with DIR exits 1 unless a daemon
// that answers serves DIR.
func TestE2EStatusStates(t *testing.T) {
	testutil.RequirePrivileged(t)
	alive, runtime := mountDirs(t)
	startDaemon(t, runtime, alive)
	stopped, _ := mountDirs(t)
	ds := startDaemon(t, runtime, stopped)
	killed, _ := mountDirs(t)
	dk := startDaemon(t, runtime, killed)
	killDaemon(t, dk)
	ds.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { ds.cmd.Process.Signal(syscall.SIGCONT) })
	waitStopped(t, ds.cmd.Process.Pid)

	for _, tc := range []struct {
		dir, state string
		code       int
	}{
		{alive, "alive", 0},
		{stopped, "not answering", 1},
		{killed, "stale", 1},
	} {
		code, out, errOut := runBtfuse(t, runtime, "status", "--json", tc.dir)
		var reps []daemonStatus
		if err := json.Unmarshal([]byte(out), &reps); err != nil || code != tc.code || len(reps) != 1 || reps[0].State != tc.state || reps[0].Mount != tc.dir {
			t.Errorf("status --json %s: exit %d, %+v (%v), stderr %q; want exit %d, one entry, state %q", tc.dir, code, reps, err, errOut, tc.code, tc.state)
		}
		code, out, errOut = runBtfuse(t, runtime, "status", tc.dir)
		if code != tc.code || !strings.Contains(out, tc.state) {
			t.Errorf("status %s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.dir, code, out, errOut, tc.code, tc.state)
		}
	}
	code, out, errOut := runBtfuse(t, runtime, "status")
	if code != 0 || !strings.Contains(out, killed+"  stale mount: its daemon is gone") || !strings.Contains(out, "btfuse umount "+killed) ||
		strings.Count(out, stopped) != 1 {
		t.Errorf("status: exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
	}
}
