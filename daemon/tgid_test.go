package daemon

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/procfs"
)

type lastEvent struct{ ev event.Event }

func (l *lastEvent) Observe(ev event.Event) { l.ev = ev }

// TestTgidObserverNoAlloc: a cached TID costs no allocation.
func TestTgidObserverNoAlloc(t *testing.T) {
	var last lastEvent
	o := &tgidObserver{next: &last, cache: procfs.NewTgidCache()}
	tid := int32(unix.Gettid())
	ev := event.Event{Op: event.OpGetAttr, Tid: tid}
	o.Observe(ev)
	if last.ev.Tgid != int32(os.Getpid()) {
		t.Fatalf("tgid %d, want %d", last.ev.Tgid, os.Getpid())
	}
	if n := testing.AllocsPerRun(100, func() { o.Observe(ev) }); n != 0 {
		t.Errorf("%v allocs per observed event, want 0", n)
	}
	ev.Tgid = 99 // a door that knows it is trusted
	o.Observe(ev)
	if last.ev.Tgid != 99 {
		t.Errorf("tgid %d, want the door's 99", last.ev.Tgid)
	}
}
