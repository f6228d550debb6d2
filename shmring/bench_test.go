package shmring

import (
	"testing"
	"time"

	"github.com/btfuse/btfuse/event"
)

// BenchmarkObserve is the producer's cost per event, from all Ps at once;
// run with -benchmem to see 0 allocs/op.
func BenchmarkObserve(b *testing.B) {
	for _, slots := range []int{64, DefaultSlots} {
		b.Run("slots="+itoa(slots), func(b *testing.B) {
			w := mustWriter(b, slots)
			ev := event.Event{Op: event.OpGetAttr, Door: event.DoorFUSE, Outcome: event.Served, Tid: 1, Path: "dir/some/file.txt", Latency: 3 * time.Microsecond}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w.Observe(ev)
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		})
	}
}

// BenchmarkPoll is a reader's cost per record.
func BenchmarkPoll(b *testing.B) {
	w := mustWriter(b, DefaultSlots)
	s := mustOpen(b, w.Path())
	ev := event.Event{Op: event.OpGetAttr, Door: event.DoorFUSE, Path: "dir/some/file.txt"}
	c := s.Cursor(false)
	c.Poll(nil)
	buf := make([]Record, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		w.Observe(ev)
		c.Poll(buf[:0])
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
