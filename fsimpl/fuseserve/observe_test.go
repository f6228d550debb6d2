package fuseserve_test

import (
	"errors"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/shmring"
)

type recorder struct {
	mu     sync.Mutex
	events []shmring.Event
}

func (r *recorder) Observe(ev shmring.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// find returns the first event of op about path.
func (r *recorder) find(op shmring.Op, path string) (shmring.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Op == op && ev.Path == path {
			return ev, true
		}
	}
	return shmring.Event{}, false
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
		op      shmring.Op
		path    string
		errno   unix.Errno
		outcome shmring.Outcome
	}{
		{shmring.OpCreate, "obs-file", 0, shmring.Served},
		{shmring.OpLookup, "obs-missing", unix.ENOENT, shmring.Error},
	} {
		ev, ok := rec.find(c.op, c.path)
		if !ok {
			t.Errorf("no %v of %s among %d events", c.op, c.path, len(rec.events))
			continue
		}
		if ev.Errno != c.errno || ev.Outcome != c.outcome || ev.Door != shmring.DoorFUSE || ev.Tid == 0 || ev.Latency <= 0 {
			t.Errorf("%v %s: %+v", c.op, c.path, ev)
		}
	}
}
