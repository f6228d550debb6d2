package shmring

import "testing"

func TestByOp(t *testing.T) {
	cell := func(op Op, o Outcome, n uint64, bucket int) CellStats {
		c := CellStats{Op: op, Door: DoorFUSE, Outcome: o, Count: n}
		if op >= OpSysOpen {
			c.Door = DoorRun
		}
		c.Buckets[bucket] = n
		return c
	}
	s := Snapshot{Cells: []CellStats{
		cell(OpSysStat, Served, 3, 2),
		cell(OpLookup, Served, 5, 1),
		cell(OpLookup, Error, 2, 1),
		cell(OpSysStat, Passthrough, 4, 3),
	}}
	got := s.ByOp()
	if len(got) != 2 || got[0].Op != OpLookup || got[1].Op != OpSysStat {
		t.Fatalf("ByOp = %+v, want LOOKUP then stat", got)
	}
	l, st := got[0], got[1]
	if l.Door != DoorFUSE || l.Counts[Served] != 5 || l.Counts[Error] != 2 || l.Latency[1] != 7 {
		t.Errorf("LOOKUP: %+v", l)
	}
	if st.Door != DoorRun || st.Counts[Served] != 3 || st.Counts[Passthrough] != 4 || st.Latency[2] != 3 || st.Latency[3] != 4 {
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
