package shmring

import (
	"cmp"
	"slices"

	"github.com/btfuse/btfuse/event"
)

// OpStats adds up the cells of one op through one door: a count per
// outcome and one latency histogram over all of them.
type OpStats struct {
	Op      event.Op
	Door    event.Door                // the door the op belongs to
	Counts  [event.NumOutcomes]uint64 // indexed by Outcome
	Latency [NumBuckets]uint64        // not cumulative, as CellStats.Buckets
}

// ByOp adds up s.Cells per op and door, in op then door order (the same
// syscall answered by the seccomp lane and by the fast lane stays two
// rows); ops without cells are left out.
func (s *Snapshot) ByOp() []OpStats {
	var out []OpStats
	type key struct {
		op   event.Op
		door event.Door
	}
	at := map[key]int{}
	for i := range s.Cells {
		c := &s.Cells[i]
		k := key{c.Op, c.Door}
		j, ok := at[k]
		if !ok {
			j = len(out)
			at[k] = j
			out = append(out, OpStats{Op: c.Op, Door: c.Door})
		}
		o := &out[j]
		if c.Outcome < event.NumOutcomes {
			o.Counts[c.Outcome] += c.Count
		}
		for b, n := range c.Buckets {
			o.Latency[b] += n
		}
	}
	slices.SortFunc(out, func(a, b OpStats) int {
		if c := cmp.Compare(a.Op, b.Op); c != 0 {
			return c
		}
		return cmp.Compare(a.Door, b.Door)
	})
	return out
}

// Cumulative returns buckets (as a cell keeps them) the way Prometheus
// takes a histogram: each bucket's upper bound in seconds -> the count at
// or under it. The last bucket has no bound and is left out: its count is
// the total's.
func Cumulative(buckets *[NumBuckets]uint64) map[float64]uint64 {
	m := make(map[float64]uint64, NumBuckets-1)
	var cum uint64
	for b := 0; b < NumBuckets-1; b++ {
		cum += buckets[b]
		m[BucketBound(b).Seconds()] = cum
	}
	return m
}
