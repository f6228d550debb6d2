package fuseserve

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
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

// The reply point (count, path lookup, event, observer call, and learning
// a path already known) does not allocate for an observed request.
func TestDoneNoAlloc(t *testing.T) {
	obs := &countObs{}
	r := &rawFS{obs: obs, paths: newPathCache()}
	r.paths.entry(1, "d", 2, true)
	r.paths.entry(2, "f", 3, false)
	h := &fuse.InHeader{NodeId: 2}
	known := &fuse.EntryOut{NodeId: 3}
	negative := &fuse.EntryOut{}
	if n := testing.AllocsPerRun(100, func() {
		r.done(r.req(event.OpGetAttr, h, ""), 0)
		r.done(r.req(event.OpLookup, h, "name"), unix.ENOENT)
		q := r.req(event.OpLookup, h, "f")
		q.entry = known
		r.done(q, 0)
		q = r.req(event.OpLookup, h, "name")
		q.entry = negative
		r.done(q, 0)
	}); n != 0 {
		t.Errorf("%v allocs per observed request, want 0", n)
	}
	if obs.n == 0 {
		t.Error("nothing observed")
	}
}

// lastObs keeps the events it is told of.
type lastObs struct{ evs []event.Event }

func (l *lastObs) Observe(ev event.Event) { l.evs = append(l.evs, ev) }

func (l *lastObs) last(tb testing.TB) event.Event {
	tb.Helper()
	if len(l.evs) == 0 {
		tb.Fatal("no event")
	}
	return l.evs[len(l.evs)-1]
}

// Requests served by rawFS are counted and reported at its reply point:
// a negative entry as ENOENT, an ENOSYS from fsimpl as EIO, requests
// without a reply as served; entry replies teach the path cache, but not
// the export LOOKUPs of "." and "..", and FORGET drops a path only with
// the kernel's last lookup.
func TestObserveRequests(t *testing.T) {
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	obs := &lastObs{}
	r := newRawFS(fs, Options{Observer: obs, EntryTimeout: time.Second})
	root := &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID, Caller: fuse.Caller{Pid: 42}}
	check := func(what string, st fuse.Status, wantSt fuse.Status, op event.Op, dir, path string, errno unix.Errno) {
		t.Helper()
		ev := obs.last(t)
		if st != wantSt || ev.Op != op || ev.Dir != dir || ev.Path != path || ev.Errno != errno ||
			(ev.Outcome == event.Error || ev.Outcome == event.Expected) != (errno != 0) || ev.Outcome != event.Served && ev.Outcome != event.Classify(op, errno) || ev.Tid != 42 && op != event.OpForget || ev.Latency <= 0 {
			t.Errorf("%s: status %v, event %+v", what, st, ev)
		}
	}

	var d fuse.EntryOut
	st := r.Mkdir(nil, &fuse.MkdirIn{InHeader: *root, Mode: 0o755}, "d", &d)
	check("mkdir", st, fuse.OK, event.OpMkdir, "/", "d", 0)
	if got := r.paths.get(d.NodeId); got != "/d" {
		t.Fatalf("path of the new directory = %q", got)
	}

	var out fuse.EntryOut
	st = r.Lookup(nil, root, "missing", &out)
	check("negative lookup", st, fuse.OK, event.OpLookup, "/", "missing", unix.ENOENT)
	if out.NodeId != 0 {
		t.Errorf("negative entry names node %d", out.NodeId)
	}
	if c := &r.stats.ops[event.OpLookup]; c.calls.Load() != 1 || c.errors.Load() != 1 {
		t.Errorf("LOOKUP counted %d calls, %d errors; want 1, 1", c.calls.Load(), c.errors.Load())
	}

	dh := &fuse.InHeader{NodeId: d.NodeId, Caller: root.Caller}
	st = r.Lookup(nil, dh, ".", &out)
	check("lookup of .", st, fuse.OK, event.OpLookup, "/d", ".", 0)
	st = r.Lookup(nil, dh, "..", &out)
	check("lookup of ..", st, fuse.OK, event.OpLookup, "/d", "..", 0)
	if got := r.paths.get(d.NodeId); got != "/d" {
		t.Errorf("path after the export lookups = %q, want /d", got)
	}

	if st := r.done(r.req(event.OpFsync, dh, ""), unix.ENOSYS); st != fuse.EIO {
		t.Errorf("ENOSYS replied as %v", st)
	}
	check("ENOSYS", fuse.EIO, fuse.EIO, event.OpFsync, "", "/d", unix.EIO)

	r.Release(nil, &fuse.ReleaseIn{InHeader: *dh, Fh: 99})
	check("release", fuse.OK, fuse.OK, event.OpRelease, "", "/d", 0)
	st = r.ReadDir(nil, &fuse.ReadIn{InHeader: *dh, Size: 4096}, fuse.NewDirEntryList(make([]byte, 4096), 0))
	check("readdir", st, fuse.OK, event.OpReadDir, "", "/d", 0)

	// The kernel holds two lookups of d (MKDIR, LOOKUP "."): the first
	// FORGET leaves its path, the second drops it.
	r.Forget(d.NodeId, 1)
	check("forget 1", fuse.OK, fuse.OK, event.OpForget, "", "/d", 0)
	if got := r.paths.get(d.NodeId); got != "/d" {
		t.Errorf("path after a partial forget = %q, want /d", got)
	}
	r.Forget(d.NodeId, 1)
	check("forget 2", fuse.OK, fuse.OK, event.OpForget, "", "/d", 0)
	if got := r.paths.get(d.NodeId); got != "" {
		t.Errorf("path after the last forget = %q, want none", got)
	}
}

// An unobserved door keeps no path cache and reads no clock.
func TestUnobservedReq(t *testing.T) {
	r := &rawFS{}
	q := r.req(event.OpGetAttr, &fuse.InHeader{NodeId: 1}, "")
	if q.start != 0 {
		t.Error("unobserved request read the clock")
	}
	if st := r.done(q, unix.ENOENT); st != fuse.ENOENT {
		t.Errorf("status %v", st)
	}
	if c := &r.stats.ops[event.OpGetAttr]; c.calls.Load() != 1 || c.errors.Load() != 1 {
		t.Errorf("GETATTR counted %d calls, %d errors; want 1, 1", c.calls.Load(), c.errors.Load())
	}
}

// BenchmarkObservedDone is the reply point's own cost per observed request
// (count, path lookup, event, a shared-memory record), without the FUSE
// round trip.
func BenchmarkObservedDone(b *testing.B) {
	w, err := shmring.Create(shmring.DefaultDir, "bench-done-"+strconv.Itoa(os.Getpid()), "/bench", 0)
	if err != nil {
		b.Skipf("no shared memory segment: %v", err)
	}
	b.Cleanup(func() { w.Close() })
	r := &rawFS{obs: w, paths: newPathCache()}
	r.paths.entry(1, "dir", 2, true)
	r.paths.entry(2, "file.txt", 3, false)
	b.Run("node", func(b *testing.B) {
		h := &fuse.InHeader{NodeId: 3}
		b.ReportAllocs()
		for b.Loop() {
			r.done(r.req(event.OpGetAttr, h, ""), 0)
		}
	})
	b.Run("name", func(b *testing.B) {
		h := &fuse.InHeader{NodeId: 2}
		b.ReportAllocs()
		for b.Loop() {
			r.done(r.req(event.OpLookup, h, "file.txt"), 0)
		}
	})
}
