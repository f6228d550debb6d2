package daemon

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestRaiseNofile: the daemon's soft descriptor limit is its hard limit,
// and the hard limit the kernel's fs.nr_open when the process may raise it
// (CAP_SYS_RESOURCE): the FUSE door holds a descriptor per open handle.
func TestRaiseNofile(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: min(orig.Cur, 1024), Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	got := raiseNofile()
	var now unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now != got || now.Cur != now.Max || now.Max < orig.Max {
		t.Errorf("after raiseNofile: %+v (returned %+v); want soft = hard >= %d", now, got, orig.Max)
	}
	max := nrOpen()
	if max == 0 || now.Max >= max {
		return
	}
	// Raising the hard limit must have been refused, not skipped.
	try := unix.Rlimit{Cur: max, Max: max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &try); err == nil {
		t.Errorf("hard limit %d left under fs.nr_open %d although it could be raised", now.Max, max)
	} else {
		t.Logf("hard limit stays %d: raising it to fs.nr_open %d: %v (no CAP_SYS_RESOURCE)", now.Max, max, err)
	}
}
