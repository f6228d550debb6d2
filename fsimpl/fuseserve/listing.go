package fuseserve

import (
	"sync"
	"time"

	"github.com/btfuse/btfuse/fsimpl"
)

// Cached listings expire with the entries they were read with.
//
// A listing read with READDIRPLUS gives the kernel an entry and attributes
// for each name, which expire after the entry and attribute timeouts. The
// listing the kernel keeps in the directory's pages (dir.go) does not
// expire, and a listing served from the pages makes no entries: a program
// that lists a directory and then stats every name (ls -l) after those
// timeouts would look each name up on its own, one LOOKUP per name where
// READDIRPLUS answered a page of names at once. So the pages of a
// directory read with READDIRPLUS from offset 0 are dropped when the
// entries of that read expire; the next listing reads afresh, with
// READDIRPLUS (fs/fuse/readdir.c fuse_use_readdirplus(): always at offset
// 0). Listings repeated within the timeout (find, a loop of opendir) are
// served from the pages.

// expiring is a directory whose listing expires at at.
type expiring struct {
	dir fsimpl.Ino
	at  time.Time
}

// listingExpiry drops expired listings from its own goroutine: a
// notification may not be sent from a FUSE handler while the kernel may
// hold a lock the notification needs (inval.go).
type listingExpiry struct {
	r   *rawFS
	ttl time.Duration

	mu      sync.Mutex
	fifo    []expiring              // guarded by mu; one ttl for all, so due times ascend
	pending map[fsimpl.Ino]struct{} // guarded by mu; the directories in fifo

	wake chan struct{} // an entry was added to an empty fifo
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run has returned
}

// newListingExpiry starts the expiry of listings read with entries that
// live entryTTL, and attributes of regular files that live fileAttrTTL (0:
// not cached, in close-to-open mode, so not a bound).
func newListingExpiry(r *rawFS, entryTTL, fileAttrTTL time.Duration) *listingExpiry {
	ttl := entryTTL
	if fileAttrTTL > 0 && fileAttrTTL < ttl {
		ttl = fileAttrTTL
	}
	x := &listingExpiry{
		r:       r,
		ttl:     ttl,
		pending: map[fsimpl.Ino]struct{}{},
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go x.run()
	return x
}

// add schedules dir's listing, being read from offset 0 now, to expire.
// A directory already scheduled keeps its earlier time: dropping a newer
// listing early costs one more READDIRPLUS, never a stale answer.
func (x *listingExpiry) add(dir fsimpl.Ino) {
	x.mu.Lock()
	if _, ok := x.pending[dir]; ok {
		x.mu.Unlock()
		return
	}
	x.pending[dir] = struct{}{}
	x.fifo = append(x.fifo, expiring{dir: dir, at: time.Now().Add(x.ttl)})
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine; called once serving has stopped.
func (x *listingExpiry) stop() {
	close(x.quit)
	<-x.done
}

func (x *listingExpiry) run() {
	defer close(x.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		x.mu.Lock()
		var head expiring
		have := len(x.fifo) > 0
		if have {
			head = x.fifo[0]
		}
		x.mu.Unlock()
		if !have {
			select {
			case <-x.wake:
				continue
			case <-x.quit:
				return
			}
		}
		if wait := time.Until(head.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-x.quit:
				timer.Stop()
				return
			}
		}
		x.mu.Lock()
		x.fifo[0] = expiring{}
		x.fifo = x.fifo[1:]
		delete(x.pending, head.dir)
		x.mu.Unlock()
		// The listed mark stays: a listing in flight now may still be
		// cached after this notification, and the change feed must
		// then drop it (knows.go).
		if x.r.lookups.isListed(head.dir) {
			x.r.inval.sendNow(invalReq{kind: invalData, ino: head.dir})
		}
	}
}
