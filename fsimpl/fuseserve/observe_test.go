package fuseserve_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Observe(ev event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// find returns the first event of op about path.
func (r *recorder) find(op event.Op, path string) (event.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Op == op && ev.Path == path {
			return ev, true
		}
	}
	return event.Event{}, false
}

// The observer sees each request with its op, caller, name and errno.
func TestObserver(t *testing.T) {
	rec := &recorder{}
	m := mustMount(t, fuseserve.Options{Observer: rec})
	mustWriteFile(t, m.path("obs-file"), []byte("x"))
	if _, err := os.Stat(m.path("obs-missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat of a missing name: %v", err)
	}
	for _, c := range []struct {
		op      event.Op
		path    string
		errno   unix.Errno
		outcome event.Outcome
	}{
		{event.OpCreate, "obs-file", 0, event.Served},
		// Not there: the answer to the question a lookup asks.
		{event.OpLookup, "obs-missing", unix.ENOENT, event.Expected},
	} {
		ev, ok := rec.find(c.op, c.path)
		if !ok {
			t.Errorf("no %v of %s among %d events", c.op, c.path, len(rec.events))
			continue
		}
		if ev.Errno != c.errno || ev.Outcome != c.outcome || ev.Door != event.DoorFUSE || ev.Tid == 0 || ev.Latency <= 0 {
			t.Errorf("%v %s: %+v", c.op, c.path, ev)
		}
	}
}

// Requests on a node are reported with its path from the root, which
// follows a rename of a directory above it.
func TestObserverPaths(t *testing.T) {
	rec := &recorder{}
	m := mustMount(t, fuseserve.Options{Observer: rec, DisablePassthrough: true})
	if err := os.MkdirAll(m.path("pd/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, m.path("pd/sub/f"), []byte("x"))
	if err := os.Rename(m.path("pd"), m.path("pe")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.path("pe/sub/f")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op   event.Op
		path string
	}{
		{event.OpMkdir, "/pd/sub"},
		{event.OpCreate, "/pd/sub/f"},
		{event.OpRename, "/pd"},
		{event.OpGetAttr, "/pe/sub/f"},
	} {
		if _, ok := rec.findJoined(c.op, c.path); !ok {
			t.Errorf("no %v of %s", c.op, c.path)
		}
	}
}

// findJoined returns the first event of op whose joined path is path.
func (r *recorder) findJoined(op event.Op, path string) (event.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		p := ev.Path
		if ev.Dir != "" {
			p = strings.TrimSuffix(ev.Dir, "/") + "/" + ev.Path
		}
		if ev.Op == op && p == path {
			return ev, true
		}
	}
	return event.Event{}, false
}
