package shmring

import (
	"testing"

	"github.com/btfuse/btfuse/event"
)

func TestByOp(t *testing.T) {
	cell := func(op event.Op, o event.Outcome, n uint64, bucket int) CellStats {
		c := CellStats{Op: op, Door: event.DoorFUSE, Outcome: o, Count: n}
		if op >= event.NumFUSEOps {
			c.Door = event.DoorRun
		}
		c.Buckets[bucket] = n
		return c
	}
	s := Snapshot{Cells: []CellStats{
		cell(event.OpSyscall, event.Served, 3, 2),
		cell(event.OpLookup, event.Served, 5, 1),
		cell(event.OpLookup, event.Error, 2, 1),
		cell(event.OpSyscall, event.Passthrough, 4, 3),
	}}
	got := s.ByOp()
	if len(got) != 2 || got[0].Op != event.OpLookup || got[1].Op != event.OpSyscall {
		t.Fatalf("ByOp = %+v, want LOOKUP then syscall", got)
	}
	l, st := got[0], got[1]
	if l.Door != event.DoorFUSE || l.Counts[event.Served] != 5 || l.Counts[event.Error] != 2 || l.Latency[1] != 7 {
		t.Errorf("LOOKUP: %+v", l)
	}
	if st.Door != event.DoorRun || st.Counts[event.Served] != 3 || st.Counts[event.Passthrough] != 4 || st.Latency[2] != 3 || st.Latency[3] != 4 {
		t.Errorf("stat: %+v", st)
	}
}

func TestCumulative(t *testing.T) {
	var b [NumBuckets]uint64
	b[0], b[2], b[NumBuckets-1] = 1, 2, 4
	m := Cumulative(&b)
	if len(m) != NumBuckets-1 {
		t.Fatalf("%d bounds, want %d", len(m), NumBuckets-1)
	}
	for i, want := range map[int]uint64{0: 1, 1: 1, 2: 3, NumBuckets - 2: 3} {
		if got := m[BucketBound(i).Seconds()]; got != want {
			t.Errorf("at or under %v: %d, want %d", BucketBound(i), got, want)
		}
	}
}

// TestByOpDoors: the same syscall answered by the seccomp lane and by the
// fast lane stays two rows.
func TestByOpDoors(t *testing.T) {
	s := Snapshot{Cells: []CellStats{
		{Op: event.OpSyscall, Door: event.DoorFast, Outcome: event.Served, Count: 7},
		{Op: event.OpSyscall, Door: event.DoorRun, Outcome: event.Served, Count: 2},
		{Op: event.OpSyscall, Door: event.DoorFast, Outcome: event.Error, Count: 1},
	}}
	got := s.ByOp()
	if len(got) != 2 || got[0].Door != event.DoorRun || got[1].Door != event.DoorFast {
		t.Fatalf("ByOp = %+v, want a run row then a fast row", got)
	}
	if got[0].Counts[event.Served] != 2 || got[1].Counts[event.Served] != 7 || got[1].Counts[event.Error] != 1 {
		t.Errorf("ByOp = %+v", got)
	}
}
