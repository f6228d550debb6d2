package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btfuse/btfuse/internal/testutil"
)

// A rule added to a running daemon changes what a running program sees,
// scoped to its pid; 'inject list' counts its faults; deleting it ends
// them; 'btfuse trace' shows each fault with its rule.
func TestInjectLive(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "python3")
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	prog := btfuse(runtime, "run", "--mount", dir, "--", "python3", "-u", "-c", `import os, time, errno
os.chdir(os.environ['BTFUSE_MOUNT'])
os.mknod('f')
print(os.getpid())
while not os.path.exists('stop'):
    try:
        open('f').close(); print('ok')
    except OSError as e:
        print(errno.errorcode[e.errno])
    time.sleep(0.01)
`)
	out, err := prog.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut testutil.SyncBuffer
	prog.Stderr = &errOut
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
		done := make(chan struct{})
		go func() { prog.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			prog.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more: drop, never block the program
			}
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("program ended; stderr %s", errOut.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("program silent; stderr %s", errOut.String())
		}
		return ""
	}
	waitFor := func(want string) {
		for i := 0; i < 2000; i++ {
			if next() == want {
				return
			}
		}
		t.Fatalf("never saw %q", want)
	}
	pid := next()
	waitFor("ok")
	inject := func(args ...string) string {
		code, stdout, stderr := runBtfuse(t, runtime, append([]string{"inject", dir}, args...)...)
		if code != 0 {
			t.Fatalf("inject %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	// A rule for another pid changes nothing.
	inject("add", "openat:error=EPERM:path=*/f:pid=1")
	inject("add", "openat:error=EIO:path="+dir+"/f:pid="+pid)
	waitFor("EIO")
	var rules []struct {
		ID    int    `json:"id"`
		Rule  string `json:"rule"`
		Fired uint64 `json:"fired"`
	}
	if err := json.Unmarshal([]byte(inject("list", "--json")), &rules); err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Fired != 0 || rules[1].Fired == 0 {
		t.Fatalf("rules %+v: want the pid=1 rule never fired and the other fired", rules)
	}
	inject("del", sprintf("%d", rules[1].ID))
	waitFor("ok")
	for i := 0; i < 20; i++ {
		if l := next(); l != "ok" {
			t.Fatalf("after del: %s", l)
		}
	}
	inject("clear")
	if l := inject("list"); strings.Count(l, "\n") != 1 {
		t.Errorf("after clear, list shows %q", l)
	}

	// The trace shows the faults: read it until an injected event comes
	// (the ring still holds them: --backlog), then stop it.
	tr := btfuse(runtime, "trace", dir, "--backlog", "--json")
	trOut, err := tr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		tr.Process.Signal(syscall.SIGINT)
		tr.Wait()
	}()
	// The reader drains the trace to its end: a trace blocked on a full
	// pipe would never see the SIGINT that stops it.
	found := make(chan traceEvent, 1)
	go func() {
		sc := bufio.NewScanner(trOut)
		sent := false
		for sc.Scan() {
			var ev traceEvent
			if !sent && json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Outcome == "injected" {
				found <- ev
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case ev, ok := <-found:
		if !ok {
			t.Fatalf("the trace ended without an injected event")
		}
		if ev.Op != "openat" || ev.Rule != uint16(rules[1].ID) || ev.Fault != "error" || ev.Errno != "EIO" || !strings.HasSuffix(ev.Path, "/f") {
			t.Errorf("injected event %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no injected event in the trace within 30 s")
	}
}
