package daemon

import (
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/procfs"
)

// tgidObserver fills in the TGID of events that carry only a TID, then
// passes them on.
type tgidObserver struct {
	next  event.Observer
	cache *procfs.TgidCache
}

func (o *tgidObserver) Observe(ev event.Event) {
	if ev.Tgid == 0 {
		ev.Tgid = o.cache.Lookup(ev.Tid)
	}
	o.next.Observe(ev)
}

// Count passes counts on (event.Counter).
func (o *tgidObserver) Count(op event.Op, door event.Door, outcome event.Outcome, n uint64) {
	if c, ok := o.next.(event.Counter); ok {
		c.Count(op, door, outcome, n)
	}
}
