package shmring

import (
	"testing"
	"time"
	"unsafe"
)

// The layout is an ABI shared with other processes: pin it.
func TestLayout(t *testing.T) {
	var h header
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"header size", unsafe.Sizeof(h), 256 + maxMount + uintptr(NumOps)*opNameLen},
		{"head", unsafe.Offsetof(h.head), 88},
		{"gaugeNano", unsafe.Offsetof(h.gaugeNano), 152},
		{"mount", unsafe.Offsetof(h.mount), 256},
		{"cell", unsafe.Sizeof(cell{}), cellSize},
		{"slot", unsafe.Sizeof(slot{}), recordSize},
		{"path", unsafe.Offsetof(slot{}.body) + unsafe.Offsetof(recBody{}.path), recordSize - PathMax},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if unsafe.Sizeof(h) > headerSize {
		t.Errorf("header is %d bytes, more than its page", unsafe.Sizeof(h))
	}
	if ringOff%4096 != 0 {
		t.Errorf("ringOff %d not page aligned", ringOff)
	}
}

func TestBucketOf(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Microsecond, 0}, {1001, 1}, {2 * time.Microsecond, 1},
		{3 * time.Microsecond, 2}, {4 * time.Microsecond, 2}, {5 * time.Microsecond, 3},
		{time.Millisecond, 10}, {time.Hour, NumBuckets - 1},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
		if b := BucketBound(bucketOf(c.d)); b >= 0 && c.d > b {
			t.Errorf("%v above the bound %v of its bucket", c.d, b)
		}
	}
}
