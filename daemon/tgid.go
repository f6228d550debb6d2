package daemon

import (
	"github.com/btfuse/btfuse/internal/procfs"
	"github.com/btfuse/btfuse/shmring"
)

// tgidObserver fills in the TGID of events that carry only a TID, then
// passes them on.
type tgidObserver struct {
	next  shmring.Observer
	cache *procfs.TgidCache
}

func (o *tgidObserver) Observe(ev shmring.Event) {
	if ev.Tgid == 0 {
		ev.Tgid = o.cache.Lookup(ev.Tid)
	}
	o.next.Observe(ev)
}
