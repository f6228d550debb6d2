package shmring

import (
	"encoding/binary"
	"os"
	"testing"
	"unsafe"

	"github.com/btfuse/btfuse/event"
)

// validSegment returns the bytes of a small segment holding a few events.
// Its file is gone when it returns: fuzz workers are killed, not cleaned up.
func validSegment(tb testing.TB) []byte {
	dir, err := os.MkdirTemp("", "shmring-fuzz-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, err := Create(dir, "fuzz", "/mnt/fuzz", 4)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	for i := range 6 {
		w.Observe(event.Event{Op: event.Op(i), Door: event.DoorRun, Outcome: event.Outcome(i % 4), Tid: int32(i), Path: testPaths[i]})
	}
	return append([]byte(nil), w.v.mem...)
}

// checkReads reads everything a reader can from mem and checks that what
// it returns is within bounds. It must never panic.
func checkReads(t *testing.T, mem []byte) {
	s, err := Parse(mem)
	if err != nil {
		return
	}
	if _, err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c := s.Cursor(true)
	for range stuckLimit + 1 {
		recs, err := c.Poll(make([]Record, 0, 8))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Op >= event.NumOps() || r.Door >= event.NumDoors || r.Outcome >= event.NumOutcomes || len(r.Path) > PathMax {
				t.Fatalf("out of bounds record %+v", r)
			}
		}
	}
	if len(s.Info().Mount) > maxMount {
		t.Fatalf("mount of %d bytes", len(s.Info().Mount))
	}
}

// FuzzParse feeds segments with a corrupted header, cut short, to the
// reader.
func FuzzParse(f *testing.F) {
	seg := validSegment(f)
	f.Add(seg[:headerSize], uint32(0))
	f.Add(seg[:200], uint32(1))
	f.Add([]byte(Magic), uint32(len(seg)-headerSize))
	f.Fuzz(func(t *testing.T, hdr []byte, cut uint32) {
		mem := alignedCopy(seg)
		copy(mem[:headerSize], hdr)
		checkReads(t, mem[:len(mem)-int(cut%uint32(len(mem)+1))])
	})
}

// FuzzRing keeps a valid header and lets the fuzzer write the ring's head
// and records: torn, overwritten and garbage records.
func FuzzRing(f *testing.F) {
	seg := validSegment(f)
	ring := seg[ringOff:]
	f.Add(uint64(6), ring)
	f.Add(uint64(1<<63), ring)
	f.Add(uint64(3), make([]byte, 4*recordSize))
	headOff := int(unsafe.Offsetof(header{}.head))
	f.Fuzz(func(t *testing.T, head uint64, data []byte) {
		mem := alignedCopy(seg)
		binary.LittleEndian.PutUint64(mem[headOff:], head)
		copy(mem[ringOff:], data)
		checkReads(t, mem)
	})
}
