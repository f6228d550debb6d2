package fuseserve

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/shmring"
)

func TestPathCache(t *testing.T) {
	c := newPathCache()
	c.entry(1, "d", 2, true)
	c.entry(2, "f", 3, false)
	c.entry(2, "sub", 4, true)
	c.entry(4, "g", 5, false)
	c.entry(9, "orphan", 6, false) // parent unknown: not cached
	want := func(id uint64, p string) {
		t.Helper()
		if got := c.get(id); got != p {
			t.Errorf("path of %d = %q, want %q", id, got, p)
		}
	}
	want(1, "/")
	want(3, "/d/f")
	want(5, "/d/sub/g")
	want(6, "")

	c.rename(2, "f", 1, "f2", false) // a file
	want(3, "/f2")
	c.rename(1, "d", 1, "e", false) // a directory: descendants follow
	want(2, "/e")
	want(4, "/e/sub")
	want(5, "/e/sub/g")
	c.rename(1, "f2", 4, "g", true) // exchange
	want(3, "/e/sub/g")
	want(5, "/f2")
	c.unlink(1, "f2")
	want(5, "/f2") // still open somewhere: keeps its last path
	c.forget(5)
	want(5, "")
	c.forget(1)
	want(1, "/")
	c.entry(2, "h", 3, false) // a hard link: the last name wins
	want(3, "/e/h")

	if n := testing.AllocsPerRun(100, func() { c.entry(2, "h", 3, false) }); n != 0 {
		t.Errorf("re-entering a known path: %v allocs", n)
	}
}

func TestPathCacheBound(t *testing.T) {
	c := newPathCache()
	for i := range maxPaths + 10 {
		c.entry(1, "f", uint64(i+2), false)
	}
	if c.n != maxPaths {
		t.Errorf("%d cached, want the bound %d", c.n, maxPaths)
	}
	if len(c.byPath) != 1 {
		t.Errorf("%d paths indexed, want 1", len(c.byPath))
	}
}

type countObs struct{ n int }

func (c *countObs) Observe(event.Event) { c.n++ }

// The hook itself (path lookup, event, observer call) does not allocate.
func TestObservedDoneNoAlloc(t *testing.T) {
	obs := &countObs{}
	o := newObserved(nil, obs)
	o.paths.entry(1, "d", 2, true)
	h := &fuse.InHeader{NodeId: 2}
	start := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		o.done(event.OpGetAttr, h, "", fuse.OK, start)
		o.done(event.OpLookup, h, "name", fuse.ENOENT, start)
	}); n != 0 {
		t.Errorf("%v allocs per observed request, want 0", n)
	}
}

// BenchmarkObservedDone is the hook's own cost per request (path lookup,
// event, a shared-memory record), without the FUSE round trip.
func BenchmarkObservedDone(b *testing.B) {
	w, err := shmring.Create(shmring.DefaultDir, "bench-done-"+strconv.Itoa(os.Getpid()), "/bench", 0)
	if err != nil {
		b.Skipf("no shared memory segment: %v", err)
	}
	b.Cleanup(func() { w.Close() })
	o := newObserved(nil, w)
	o.paths.entry(1, "dir", 2, true)
	o.paths.entry(2, "file.txt", 3, false)
	start := time.Now()
	b.Run("node", func(b *testing.B) {
		h := &fuse.InHeader{NodeId: 3}
		b.ReportAllocs()
		for b.Loop() {
			o.done(event.OpGetAttr, h, "", fuse.OK, start)
		}
	})
	b.Run("name", func(b *testing.B) {
		h := &fuse.InHeader{NodeId: 2}
		b.ReportAllocs()
		for b.Loop() {
			o.done(event.OpLookup, h, "file.txt", fuse.OK, start)
		}
	})
}
