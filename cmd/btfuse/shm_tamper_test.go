package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/shmring"
)

// TestE2EShmTamper: the daemon's shared-memory segment must survive what
// other local processes can do to a file in /dev/shm. "truncate": a
// truncation of the segment (through whatever path status names) must not
// crash the daemon, which writes into its mapping on every operation.
// "precreated": another user creating /dev/shm/btfuse-KEY (the name was
// predictable) before the daemon starts must not cost it its segment.
// Either way, status must still read the counters.
func TestE2EShmTamper(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, mode := range []string{"truncate", "precreated"} {
		t.Run(mode, func(t *testing.T) {
			dir, runtime := mountDirs(t)
			mount, err := control.Canonical(dir)
			if err != nil {
				t.Fatal(err)
			}
			named := filepath.Join(shmring.DefaultDir, shmring.Prefix+control.Key(mount))
			// Registered first, so it runs after the daemon is gone.
			t.Cleanup(func() { os.Remove(named) })
			if mode == "precreated" {
				if err := os.WriteFile(named, []byte("not yours"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(named, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			d := startDaemon(t, runtime, dir)
			if mode == "truncate" {
				shm := daemonStatusOf(t, runtime, dir).Segment
				if shm == "" {
					t.Fatal("status names no segment")
				}
				err := os.Truncate(shm, 0)
				t.Logf("truncate %s: %v", shm, err)
			}
			for i := range 20 {
				if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), []byte("x"), 0o644); err != nil {
					t.Fatalf("write through the mount: %v; daemon stderr:\n%s", err, d.errw)
				}
			}
			select {
			case <-d.exited:
				t.Fatalf("daemon died (%v); stderr:\n%s", d.err, d.errw)
			default:
			}
			st := daemonStatusOf(t, runtime, dir)
			if st.Error != "" || st.Ops["CREATE"].Served == 0 {
				t.Errorf("status after the segment was tampered with: error %q, ops %v", st.Error, st.Ops)
			}
		})
	}
}

// daemonStatusOf runs 'btfuse status DIR --json' and returns its entry.
func daemonStatusOf(tb testing.TB, runtime, dir string) daemonStatus {
	tb.Helper()
	code, out, errOut := runBtfuse(tb, runtime, "status", dir, "--json")
	var st []daemonStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		tb.Fatalf("btfuse status %s --json: exit %d, %v, stdout %q, stderr %q", dir, code, err, out, errOut)
	}
	return st[0]
}
