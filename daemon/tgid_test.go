package daemon

import (
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

func TestTgidCache(t *testing.T) {
	c := newTgidCache()
	if got, want := c.lookup(int32(unix.Gettid())), int32(os.Getpid()); got != want {
		t.Errorf("tgid of this thread = %d, want %d", got, want)
	}
	if got := c.lookup(0); got != 0 {
		t.Errorf("tgid of tid 0 = %d, want 0", got)
	}
	var reads atomic.Int32
	c.read = func(tid int32) int32 { reads.Add(1); return tid + 1000 }
	c.lookup(5)
	c.lookup(5)
	if reads.Load() != 1 {
		t.Errorf("%d /proc reads for one tid looked up twice, want 1", reads.Load())
	}
	c.lookup(5 + tgidSlots) // same slot: evicts 5
	if got := c.lookup(5); got != 1005 || reads.Load() != 3 {
		t.Errorf("after eviction: tgid %d after %d reads, want 1005 after 3", got, reads.Load())
	}
}

type lastEvent struct{ ev event.Event }

func (l *lastEvent) Observe(ev event.Event) { l.ev = ev }

// TestTgidObserverNoAlloc: a cached TID costs no allocation.
func TestTgidObserverNoAlloc(t *testing.T) {
	var last lastEvent
	o := &tgidObserver{next: &last, cache: newTgidCache()}
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

func BenchmarkTgidLookup(b *testing.B) {
	c := newTgidCache()
	tid := int32(unix.Gettid())
	b.ReportAllocs()
	for b.Loop() {
		c.lookup(tid)
	}
}
