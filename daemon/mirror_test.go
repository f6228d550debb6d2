package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/shmring"
)

// The daemon mirrors its operations into a segment named in its registry
// entry, keeps the gauges fresh and releases the segment when it stops.
func TestMirror(t *testing.T) {
	r := startRun(t)
	reg, err := control.Open(r.runtime)
	if err != nil {
		t.Fatal(err)
	}
	mount, _ := control.Canonical(r.dir)
	e, err := reg.Lookup(context.Background(), mount)
	if err != nil {
		t.Fatal(err)
	}
	if e.Shm == "" {
		t.Fatalf("registry entry names no segment: %+v", e.Info)
	}
	seg, err := shmring.Open(e.Shm)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if info := seg.Info(); info.PID != os.Getpid() || info.Mount != mount || !seg.Alive() {
		t.Errorf("segment info %+v, alive %v", info, seg.Alive())
	}
	if err := os.WriteFile(filepath.Join(r.dir, "mirrored"), make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second) // a hang guard
	for {
		snap, err := seg.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var creates uint64
		for _, c := range snap.Cells {
			if c.Op == event.OpCreate && c.Door == event.DoorFUSE && c.Outcome == event.Served {
				creates = c.Count
			}
		}
		if creates > 0 && snap.Inodes >= 2 && snap.Bytes >= 8192 && snap.InodesMax > 0 && snap.BytesMax > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters and gauges not updated: creates %d, snapshot %+v", creates, snap)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	// The segment has no name to leave behind: the path status read it by
	// was the daemon's descriptor, closed now.
	if s2, err := shmring.Open(e.Shm); err == nil {
		s2.Close()
		t.Errorf("segment %s still open after the daemon stopped", e.Shm)
	}
}
