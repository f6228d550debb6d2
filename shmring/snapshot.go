package shmring

import (
	"time"

	"github.com/btfuse/btfuse/event"
)

// Snapshot is a reading of a segment's counters and gauges.
type Snapshot struct {
	Cells []CellStats // cells with a non-zero count, by op, door, outcome

	Inodes, InodesMax, Bytes, BytesMax uint64
	Supervised                         uint64
	GaugeTime                          time.Time // zero if never set

	Ring RingStats
}

// RingStats describes the ring.
type RingStats struct {
	Slots       uint64 `json:"slots"`
	Written     uint64 `json:"written"`     // tickets taken: records written or dropped
	Overwritten uint64 `json:"overwritten"` // records overwritten by newer ones
	Dropped     uint64 `json:"dropped"`     // records the producer gave up
}

// CellStats counts one op × door × outcome.
type CellStats struct {
	Op      event.Op
	Door    event.Door
	Outcome event.Outcome
	Count   uint64
	Sum     time.Duration
	Buckets [NumBuckets]uint64 // not cumulative
}

func snapshot(v view) Snapshot {
	h := v.hdr
	s := Snapshot{
		Inodes:     h.inodes.Load(),
		InodesMax:  h.inodesMax.Load(),
		Bytes:      h.bytes.Load(),
		BytesMax:   h.bytesMax.Load(),
		Supervised: h.supervised.Load(),
		Ring: RingStats{
			Slots:       uint64(len(v.ring)),
			Written:     h.head.Load(),
			Overwritten: h.overwritten.Load(),
			Dropped:     h.dropped.Load(),
		},
	}
	if t := h.gaugeNano.Load(); t != 0 {
		s.GaugeTime = time.Unix(0, t)
	}
	for op := range event.NumOps() {
		for d := range event.NumDoors {
			for o := range event.NumOutcomes {
				c := &v.cells[cellIndex(op, d, o)]
				n := c.count.Load()
				if n == 0 {
					continue
				}
				cs := CellStats{Op: op, Door: d, Outcome: o, Count: n, Sum: time.Duration(c.sumNano.Load())}
				for i := range cs.Buckets {
					cs.Buckets[i] = c.buckets[i].Load()
				}
				s.Cells = append(s.Cells, cs)
			}
		}
	}
	return s
}

// Quantile estimates the q-quantile (0 < q ≤ 1) of the latencies counted in
// buckets, interpolating linearly inside the bucket it falls in; latencies
// past the last bound count as twice that bound. It returns 0 for no data.
func Quantile(buckets *[NumBuckets]uint64, q float64) time.Duration {
	var total uint64
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, n := range buckets {
		if n == 0 {
			continue
		}
		if cum+float64(n) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = BucketBound(i - 1)
			}
			hi := BucketBound(i)
			if hi < 0 {
				hi = 2 * lo
			}
			frac := (rank - cum) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		cum += float64(n)
	}
	return BucketBound(NumBuckets - 2)
}
