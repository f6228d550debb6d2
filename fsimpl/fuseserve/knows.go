package fuseserve

import (
	"strings"
	"sync"
	"time"

	"github.com/btfuse/btfuse/fsimpl"
)

// What the kernel can have cached, so that the other door's invalidations
// are sent only where they change something. Each notification is a write
// to /dev/fuse that takes the kernel's inode or directory lock, and a
// create through `btfuse run` would otherwise queue three of them for a
// name the kernel has never seen.
//
// The kernel holds valid attributes of an inode only from a reply that
// carried them (an entry or an attribute reply); WRITE, link, unlink and
// rename through FUSE mark its own copy stale (fuse_invalidate_attr). It
// holds a negative dentry only from a LOOKUP answered with node 0 and a
// timeout, and a positive one only for an inode it holds a lookup count
// of. So, with no such reply in flight (busy == 0):
//
//   - attributes need dropping only when handed out since the last
//     invalidation (the attrs set, cleared as the invalidation is queued);
//   - a name just created needs dropping only when a negative entry for it
//     was handed out and has not expired (negatives);
//   - a removed name needs dropping only when the kernel holds its inode.
//
// busy counts the requests that may reply with attributes or entries; it
// is raised before fsimpl is read and lowered after the reply's inode was
// recorded, so a change either precedes the read (the reply is fresh) or
// is checked while busy > 0 or after the record (the invalidation goes).
// In close-to-open mode the kernel also caches file pages, which no reply
// announces: data invalidations are then always sent.
//
// The kernel caches a directory's listing in the directory's pages
// (FOPEN_CACHE_DIR, dir.go) only from READDIR or READDIRPLUS replies, so
// a directory needs its pages dropped only when listed since the last
// invalidation (the listed set, marked before fsimpl is read).

// begin marks a request that may hand out attributes or entries; the
// returned function ends it: `defer r.begin()()`.
func (r *rawFS) begin() func() {
	r.busy.Add(1)
	return r.end
}

func (r *rawFS) end() { r.busy.Add(-1) }

// handedOut records that the kernel got ino's attributes.
func (t *lookupTable) handedOut(ino fsimpl.Ino) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.attrs[ino] = struct{}{}
}

// takeAttrs reports whether ino's attributes were handed out since the
// last call, and forgets that they were.
func (t *lookupTable) takeAttrs(ino fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.attrs[ino]
	delete(t.attrs, ino)
	return ok
}

// listedDir records that the kernel is being sent a listing of dir.
func (t *lookupTable) listedDir(dir fsimpl.Ino) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.listed[dir] = struct{}{}
}

// takeListed reports whether dir was listed since the last call, and
// forgets that it was.
func (t *lookupTable) takeListed(dir fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.listed[dir]
	delete(t.listed, dir)
	return ok
}

// isListed reports whether dir was listed since the last takeListed.
func (t *lookupTable) isListed(dir fsimpl.Ino) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.listed[dir]
	return ok
}

// mayCacheAttrs reports whether the kernel may hold valid attributes of
// ino; when it says so, the caller invalidates them.
func (r *rawFS) mayCacheAttrs(ino fsimpl.Ino) bool {
	// The root too: the kernel makes its root inode with attributes
	// already expired (fuse_get_root_inode), so it holds valid ones only
	// from a GETATTR reply, like any other inode.
	if r.busy.Load() != 0 {
		return true
	}
	return r.lookups.takeAttrs(ino)
}

// mayCacheData is mayCacheAttrs for InvalContent, which also drops pages.
func (r *rawFS) mayCacheData(ino fsimpl.Ino) bool {
	return !r.passthrough || r.mayCacheAttrs(ino)
}

// mayHoldEntry reports whether the kernel may have a dentry for a name
// whose inode is child.
func (r *rawFS) mayHoldEntry(child fsimpl.Ino) bool {
	return r.busy.Load() != 0 || r.lookups.holds(child)
}

// mayHoldNegative reports whether the kernel may have a negative dentry
// for name in parent.
func (r *rawFS) mayHoldNegative(parent fsimpl.Ino, name string) bool {
	return r.busy.Load() != 0 || r.negatives.has(parent, name)
}

// maxNegatives bounds the memory the remembered negative entries take;
// past it the table is emptied and every name counts as cached until the
// entries it held have expired (allUntil).
const maxNegatives = 1 << 16

// negativeSlack is added to every negative entry's lifetime here: the
// kernel starts its timeout when it reads the reply, a little after the
// entry is recorded, and a loaded machine can stretch that gap.
const negativeSlack = time.Second

// negativeTable remembers the negative entries handed out, until they
// expire in the kernel.
type negativeTable struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[negKey]time.Time // expiry; guarded by mu
	// allUntil: the table overflowed and was emptied; until then every
	// name may be cached negative. Guarded by mu.
	allUntil time.Time
}

type negKey struct {
	parent fsimpl.Ino
	name   string
}

func (t *negativeTable) add(parent fsimpl.Ino, name string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = make(map[negKey]time.Time)
	}
	if len(t.entries) >= maxNegatives {
		for k, exp := range t.entries {
			if now.After(exp) {
				delete(t.entries, k)
			}
		}
		if len(t.entries) >= maxNegatives {
			// Everything recorded expires by now+ttl at the latest.
			clear(t.entries)
			t.allUntil = now.Add(t.ttl + negativeSlack)
		}
	}
	t.entries[negKey{parent, strings.Clone(name)}] = now.Add(t.ttl + negativeSlack)
}

func (t *negativeTable) has(parent fsimpl.Ino, name string) bool {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.allUntil) {
		return true
	}
	k := negKey{parent, name}
	exp, ok := t.entries[k]
	if ok && now.After(exp) {
		delete(t.entries, k)
		return false
	}
	return ok
}
