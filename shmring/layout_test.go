package shmring

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/btfuse/btfuse/event"
)

// The layout is an ABI shared with other processes: pin it.
func TestLayout(t *testing.T) {
	var h header
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"header size", unsafe.Sizeof(h), 256 + maxMount + event.MaxOps*opNameLen},
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

func TestJoinTail(t *testing.T) {
	long := strings.Repeat("d", PathMax)
	for _, c := range []struct {
		dir, name, want string
		trunc           bool
	}{
		{"", "", "", false},
		{"", "name", "name", false},
		{"/a/b", "c", "/a/b/c", false},
		{"/", "c", "/c", false},
		{"/a", "", "/a", false},
		{"", long + "xyz", long[3:] + "xyz", true},
		{long, "n", long[2:] + "/n", true},
		{"/a", long, long, true},
		{"/a", long[1:], "/" + long[1:], true},
		{"/a", long[2:], "a/" + long[2:], true},
	} {
		var dst [PathMax]byte
		n, trunc := joinTail(&dst, c.dir, c.name)
		if got := string(dst[:n]); got != c.want || trunc != c.trunc {
			t.Errorf("joinTail(%q, %q) = %q, %v; want %q, %v", c.dir, c.name, got, trunc, c.want, c.trunc)
		}
	}
}
