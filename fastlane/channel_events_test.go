package fastlane_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/shmring"
)

// TestChannelEventsInRing: every call the channel answers is counted in
// the daemon's shared-memory segment under door "fast", with its
// syscall's op, so that status shows the lanes apart: the counts equal the
// calls the harness saw answered by the channel.
func TestChannelEventsInRing(t *testing.T) {
	l := startLane(t)
	out := lines(l.supervised(t, "ops", l.mount))
	want := map[string]uint64{}
	for _, line := range out {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[2] != "chan" {
			continue
		}
		switch w := strings.Fields(f[0])[0]; w {
		case "create", "open":
			want["openat"]++
		case "mkdir":
			want["mkdirat"]++
		case "rename":
			want["renameat2"]++
		case "link":
			want["linkat"]++
		case "unlink", "rmdir":
			want["unlinkat"]++
		case "fstat":
			want["fstat"]++
		}
	}
	diff := lines(l.supervised(t, "diff", l.mount+"/", l.mount+"/missing"))
	for _, line := range diff {
		f := strings.Split(line, "\t")
		// The channel's answers are events; the view's are counts the
		// library keeps, which the daemon adds in when the session
		// ends, under the same door and op.
		if len(f) == 4 && f[1] != "pass" {
			want[strings.Fields(f[0])[0]]++
		}
		if len(f) == 4 && f[3] != "pass" {
			want[strings.Fields(f[0])[0]]++
		}
	}
	if want["openat"] == 0 || want["newfstatat"] == 0 || want["readlinkat"] == 0 {
		t.Fatalf("the channel served too little to count: %v", want)
	}
	reg, err := control.Open(l.runtime)
	if err != nil {
		t.Fatal(err)
	}
	e, err := reg.Lookup(context.Background(), l.mount)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := shmring.Open(e.Shm)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	deadline := time.Now().Add(20 * time.Second) // a hang guard
	for {
		snap, err := seg.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, c := range snap.Cells {
			if c.Door == event.DoorFast && (c.Outcome == event.Served || c.Outcome == event.Error) {
				got[c.Op.String()] += c.Count
			}
		}
		same := len(got) == len(want)
		for k, v := range want {
			same = same && got[k] == v
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("door fast counted %v, the channel answered %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
