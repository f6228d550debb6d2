package supervisor

import (
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/testutil"
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

// The observer sees each answered syscall with its path and result.
func TestObserver(t *testing.T) {
	b := testutil.StartBtfuse(t)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	sup, err := New(b.FS, Options{Mount: mount, Inval: b.Server, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	s := &supervised{Btfuse: b, mount: mount, sup: sup}
	code, _, _ := s.run(t, []string{"sh", "-c", `echo hi > "$BTFUSE_MOUNT/obs"; cat "$BTFUSE_MOUNT/obs-missing"; true`})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var created, missing bool
	for _, ev := range rec.events {
		if ev.Door != event.DoorRun || ev.Tid == 0 {
			t.Errorf("event %+v", ev)
		}
		switch {
		case strings.HasSuffix(ev.Path, "/obs") && ev.Outcome == event.Served && ev.Errno == 0:
			created = true
		case strings.HasSuffix(ev.Path, "/obs-missing") && ev.Outcome == event.Error && ev.Errno == unix.ENOENT:
			missing = true
		}
	}
	if !created || !missing {
		t.Errorf("served open of obs seen: %v; ENOENT of obs-missing seen: %v; events: %+v", created, missing, rec.events)
	}
}
