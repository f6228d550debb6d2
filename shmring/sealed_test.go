package shmring

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
)

// TestSealedSegment: a sealed segment is read through its /proc path like
// a named one, and nobody, its own user included, can resize it or write
// to it except through the writer's mapping.
func TestSealedSegment(t *testing.T) {
	w, err := CreateSealed("/mnt/sealed", 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.Observe(event.Event{Op: 1, Door: event.DoorFUSE, Outcome: event.Served})
	s := mustOpen(t, w.Path())
	defer s.Close()
	if s.Info().Mount != "/mnt/sealed" || s.Info().PID != os.Getpid() {
		t.Errorf("segment info %+v", s.Info())
	}
	for _, size := range []int64{0, 1 << 30} {
		if err := os.Truncate(w.Path(), size); !errors.Is(err, unix.EPERM) {
			t.Errorf("truncate to %d: %v, want EPERM", size, err)
		}
	}
	f, err := os.OpenFile(w.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("junk"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write through another descriptor: %v, want EPERM", err)
	}
	if _, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); !errors.Is(err, unix.EPERM) {
		t.Errorf("writable shared mapping by another descriptor: %v, want EPERM", err)
	}
	w.Observe(event.Event{Op: 1, Door: event.DoorFUSE, Outcome: event.Served})
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range snap.Cells {
		n += c.Count
	}
	if n != 2 {
		t.Errorf("reader counts %d events, want 2", n)
	}
}
