package shmring

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

func TestWriteRead(t *testing.T) {
	w := mustWriter(t, 16)
	st, err := os.Stat(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("segment mode %v, want 0600", st.Mode().Perm())
	}
	long := "/mnt/test/" + strings.Repeat("d/", 50) + "leaf"
	events := []event.Event{
		{Op: event.OpLookup, Door: event.DoorFUSE, Outcome: event.Served, Tid: 10, Ino: 1, Path: "a", Latency: 3 * time.Microsecond},
		{Op: opOpenat, Door: event.DoorRun, Outcome: event.Error, Tgid: 20, Tid: 21, Errno: unix.ENOENT, Path: long, Latency: time.Millisecond},
		{Op: opStat, Door: event.DoorRun, Outcome: event.Passthrough, Tgid: 20, Tid: 20, Path: "/etc/passwd"},
		{Op: event.NumOps(), Door: event.DoorRun}, // invalid: dropped
	}
	for _, ev := range events {
		w.Observe(ev)
	}
	s := mustOpen(t, w.Path())
	if got := s.Info(); got.Mount != "/mnt/test" || got.PID != os.Getpid() || got.Slots != 16 || time.Since(got.Start) > time.Minute {
		t.Errorf("Info = %+v", got)
	}
	if !s.Alive() {
		t.Errorf("segment of a live writer not alive")
	}
	recs, err := s.Cursor(true).Poll(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("read %d records, want 3: %+v", len(recs), recs)
	}
	for i, r := range recs {
		ev := events[i]
		wantPath, trunc := ev.Path, false
		if len(wantPath) > PathMax {
			wantPath, trunc = wantPath[len(wantPath)-PathMax:], true
		}
		if r.Seq != uint64(i) || r.Op != ev.Op || r.Door != ev.Door || r.Outcome != ev.Outcome ||
			r.Tgid != ev.Tgid || r.Tid != ev.Tid || r.Errno != ev.Errno || r.Path != wantPath ||
			r.Truncated != trunc || r.Latency != ev.Latency || r.Ino != ev.Ino {
			t.Errorf("record %d = %+v, want %+v", i, r, ev)
		}
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Ring != (RingStats{Slots: 16, Written: 3, Dropped: 1}) {
		t.Errorf("ring %+v", snap.Ring)
	}
	if len(snap.Cells) != 3 {
		t.Fatalf("cells %+v", snap.Cells)
	}
	c := snap.Cells[1] // sorted by op: openat
	if c.Op != opOpenat || c.Count != 1 || c.Sum != time.Millisecond || c.Buckets[bucketOf(time.Millisecond)] != 1 {
		t.Errorf("openat cell %+v", c)
	}
	w.SetGauges(3, 100, 4096, 1<<20)
	w.SetSupervised(2)
	snap, _ = s.Snapshot()
	if snap.Inodes != 3 || snap.InodesMax != 100 || snap.Bytes != 4096 || snap.BytesMax != 1<<20 || snap.Supervised != 2 || snap.GaugeTime.IsZero() {
		t.Errorf("gauges %+v", snap)
	}
}

func TestObserveAllocs(t *testing.T) {
	w := mustWriter(t, 64)
	ev := event.Event{Op: event.OpGetAttr, Door: event.DoorFUSE, Outcome: event.Served, Tid: 1, Path: "some/path", Latency: 5 * time.Microsecond}
	if n := testing.AllocsPerRun(1000, func() { w.Observe(ev) }); n != 0 {
		t.Errorf("Observe allocates %v times per event", n)
	}
}

// A slow reader: every event is either read or counted as missed, and the
// producer counts what it overwrote.
func TestSlowReaderCountsMissed(t *testing.T) {
	const slots, total = 64, 1000
	w := mustWriter(t, slots)
	s := mustOpen(t, w.Path())
	c := s.Cursor(false)
	c.Poll(nil) // starts here
	var read uint64
	buf := make([]Record, 0, 8)
	for i := range total {
		w.Observe(event.Event{Op: event.OpRead, Door: event.DoorFUSE, Tid: int32(i), Ino: uint64(i)})
		if i%100 == 99 { // the reader wakes up now and then and reads a little
			recs, err := c.Poll(buf[:0])
			if err != nil {
				t.Fatal(err)
			}
			read += uint64(len(recs))
		}
	}
	for {
		recs, err := c.Poll(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if uint64(r.Tid) != r.Seq || r.Ino != r.Seq {
				t.Fatalf("record %d holds event %d", r.Seq, r.Tid)
			}
		}
		read += uint64(len(recs))
	}
	if read+c.Missed != total || c.Next() != total {
		t.Errorf("read %d + missed %d != %d (cursor at %d)", read, c.Missed, total, c.Next())
	}
	if c.Missed == 0 || read < slots {
		t.Errorf("read %d, missed %d: the slow reader should miss some and read the last ring", read, c.Missed)
	}
	snap, _ := s.Snapshot()
	if snap.Ring.Overwritten != total-slots || snap.Ring.Dropped != 0 {
		t.Errorf("ring %+v, want %d overwritten", snap.Ring, total-slots)
	}
}

// Many producers and a reader at once (run with -race): records read are
// whole.
func TestConcurrentProducers(t *testing.T) {
	const producers, each = 4, 5000
	w := mustWriter(t, 256)
	s := mustOpen(t, w.Path())
	c := s.Cursor(true)
	c.Poll(nil) // the cursor starts at ticket 0
	stop := make(chan struct{})
	var read uint64
	var rerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]Record, 0, 64)
		for {
			recs, err := c.Poll(buf[:0])
			if err != nil {
				rerr = err
				return
			}
			for _, r := range recs {
				if r.Ino != uint64(r.Tid)*7 || r.Path != pathFor(r.Tid) {
					rerr = errors.New("torn record: " + r.Path)
					return
				}
			}
			read += uint64(len(recs))
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				tid := int32(p*each + i)
				w.Observe(event.Event{Op: event.OpWrite, Door: event.DoorFUSE, Tid: tid, Ino: uint64(tid) * 7, Path: pathFor(tid)})
			}
		})
	}
	wg.Wait()
	close(stop)
	<-done
	if rerr != nil {
		t.Fatal(rerr)
	}
	snap, _ := s.Snapshot()
	for c.Next() < snap.Ring.Written { // catch up
		recs, _ := c.Poll(nil)
		read += uint64(len(recs))
	}
	if read+c.Missed != snap.Ring.Written || snap.Ring.Written != producers*each {
		t.Errorf("read %d + missed %d, written %d (ring %+v)", read, c.Missed, producers*each, snap.Ring)
	}
}

var testPaths = func() []string {
	p := make([]string, 16)
	for i := range p {
		p[i] = strings.Repeat(string(rune('a'+i)), 10+i*4) // at most PathMax
	}
	return p
}()

func pathFor(tid int32) string { return testPaths[int(tid)%len(testPaths)] }

func TestStaleSegment(t *testing.T) {
	dir := mustDir(t)
	w, err := Create(dir, "x", "/m", 16)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Create(dir, "x", "/m", 16); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Create of a live segment: %v", err)
	}
	if got := Sweep(dir); len(got) != 0 {
		t.Errorf("Sweep removed live segments %v", got)
	}
	// The daemon dies: its lock goes (with the mapping, which holds the
	// open file too), the file stays.
	w.unmap()
	w.f.Close()
	s := mustOpen(t, w.Path())
	if s.Alive() {
		t.Errorf("segment without its lock is alive")
	}
	w2, err := Create(dir, "x", "/m", 16)
	if err != nil {
		t.Fatalf("Create over a dead segment: %v", err)
	}
	w2.unmap() // dies too
	w2.f.Close()
	if got := Sweep(dir); len(got) != 1 || got[0] != w2.Path() {
		t.Errorf("Sweep removed %v, want %s", got, w2.Path())
	}
	if _, err := os.Stat(w2.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead segment still there: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := mustDir(t)
	w := mustWriter(t, 16)
	good, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		mode  os.FileMode
		wants string
	}{
		{"empty", nil, 0o600, "shorter"},
		{"magic", append([]byte("notmagic"), good[8:]...), 0o600, "magic"},
		{"truncated", good[:len(good)-1], 0o600, "bytes, want"},
		{"world-writable", good, 0o666, "writable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := dir + "/" + c.name
			if err := os.WriteFile(p, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, c.mode)
			s, err := Open(p)
			if err == nil {
				s.Close()
				t.Fatalf("Open accepted it")
			}
			if !strings.Contains(err.Error(), c.wants) {
				t.Errorf("error %q does not say %q", err, c.wants)
			}
		})
	}
}

// A segment truncated under a reader faults; the reader reports it.
func TestTruncatedUnderReader(t *testing.T) {
	w := mustWriter(t, 16)
	s := mustOpen(t, w.Path())
	w.Observe(event.Event{Op: event.OpRead})
	if err := os.Truncate(w.Path(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(); !errors.Is(err, ErrFault) {
		t.Errorf("Snapshot of a truncated segment: %v", err)
	}
	if _, err := s.Cursor(true).Poll(nil); !errors.Is(err, ErrFault) {
		t.Errorf("Poll of a truncated segment: %v", err)
	}
}

func TestQuantile(t *testing.T) {
	var b [NumBuckets]uint64
	if Quantile(&b, 0.5) != 0 {
		t.Errorf("quantile of nothing")
	}
	b[bucketOf(3*time.Microsecond)] = 99 // (2µs, 4µs]
	b[bucketOf(time.Millisecond)] = 1
	if q := Quantile(&b, 0.5); q <= 2*time.Microsecond || q > 4*time.Microsecond {
		t.Errorf("p50 = %v", q)
	}
	if q := Quantile(&b, 0.999); q <= 512*time.Microsecond || q > 1024*time.Microsecond {
		t.Errorf("p99.9 = %v", q)
	}
}

// An event produced after Cursor returns and before the first Poll is seen:
// `btfuse trace` announces itself once it holds its cursor, and tests (and
// users) act on that line at once.
func TestCursorStartsWhenMade(t *testing.T) {
	w := mustWriter(t, 64)
	w.Observe(event.Event{Op: event.OpRead, Door: event.DoorFUSE, Tid: 1}) // before: not wanted
	c := mustOpen(t, w.Path()).Cursor(false)
	w.Observe(event.Event{Op: event.OpWrite, Door: event.DoorFUSE, Tid: 2})
	recs, err := c.Poll(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Tid != 2 {
		t.Fatalf("first poll read %+v, want only the event after Cursor", recs)
	}
}

// An injected event keeps its rule, its kind and its value (in the
// record's ino field), and a record with a kind out of range is refused.
func TestInjectedRecord(t *testing.T) {
	w := mustWriter(t, 16)
	w.Observe(event.Event{Op: opOpenat, Door: event.DoorRun, Outcome: event.Injected, Tid: 5, Ino: 99,
		Rule: 7, Fault: event.FaultShort, FaultValue: 3, Path: "/x"})
	w.Observe(event.Event{Op: opOpenat, Door: event.DoorRun, Outcome: event.Served, Tid: 5, Ino: 99, Rule: 7, Fault: event.FaultShort})
	s := mustOpen(t, w.Path())
	recs, err := s.Cursor(true).Poll(nil)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if r := recs[0]; r.Rule != 7 || r.Fault != event.FaultShort || r.FaultValue != 3 || r.Ino != 0 {
		t.Errorf("injected record %+v", r)
	}
	if r := recs[1]; r.Rule != 0 || r.Fault != 0 || r.Ino != 99 {
		t.Errorf("served record %+v: fault fields must stay empty", r)
	}
	b := recBody{op: uint16(opOpenat), outcome: uint8(event.Injected), fault: uint8(event.NumFaultKinds)}
	if _, ok := decode(0, &b); ok {
		t.Errorf("a fault kind out of range was accepted")
	}
}
