package procfs

import (
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testthread"
)

func TestTgidCache(t *testing.T) {
	c := NewTgidCache()
	if got, want := c.Lookup(int32(unix.Gettid())), int32(os.Getpid()); got != want {
		t.Errorf("tgid of this thread = %d, want %d", got, want)
	}
	if got := c.Lookup(0); got != 0 {
		t.Errorf("tgid of tid 0 = %d, want 0", got)
	}
	var reads atomic.Int32
	c.read = func(tid int32) int32 { reads.Add(1); return tid + 1000 }
	c.Lookup(5)
	c.Lookup(5)
	if reads.Load() != 1 {
		t.Errorf("%d /proc reads for one tid looked up twice, want 1", reads.Load())
	}
	c.Lookup(5 + tgidSlots) // same slot: evicts 5
	if got := c.Lookup(5); got != 1005 || reads.Load() != 3 {
		t.Errorf("after eviction: tgid %d after %d reads, want 1005 after 3", got, reads.Load())
	}
}

// TestTgidCachePut: what Put records is answered without a read.
func TestTgidCachePut(t *testing.T) {
	c := NewTgidCache()
	var reads atomic.Int32
	c.read = func(tid int32) int32 { reads.Add(1); return tid + 1000 }
	c.Put(7, 7)
	c.Put(0, 3) // no thread: ignored
	if got := c.Lookup(7); got != 7 || reads.Load() != 0 {
		t.Errorf("after Put(7, 7): tgid %d after %d reads, want 7 after 0", got, reads.Load())
	}
	if got := c.Lookup(0); got != 0 {
		t.Errorf("tgid of tid 0 = %d, want 0", got)
	}
}

func BenchmarkTgidLookup(b *testing.B) {
	c := NewTgidCache()
	tid := int32(unix.Gettid())
	b.ReportAllocs()
	for b.Loop() {
		c.Lookup(tid)
	}
}

// TestReadTgid: a leader answers from pidfd_open, another thread from its
// status file; both name this process.
func TestReadTgid(t *testing.T) {
	leader, other := os.Getpid(), testthread.Other(t)
	if !IsLeader(leader) || IsLeader(other) {
		t.Errorf("IsLeader(leader %d) = %v, IsLeader(thread %d) = %v; want true, false", leader, IsLeader(leader), other, IsLeader(other))
	}
	for _, tid := range []int{leader, other} {
		if got := readTgid(int32(tid)); got != int32(leader) {
			t.Errorf("readTgid(%d) = %d, want %d", tid, got, leader)
		}
	}
	if got := readTgid(1 << 30); got != 0 {
		t.Errorf("readTgid of no thread = %d, want 0", got)
	}
}
