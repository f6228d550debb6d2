package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/shmring"
)

// opOpenat is a syscall op, registered as package supervisor (not linked
// into this test) registers its own.
var opOpenat = event.Register("openat")

func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	w, err := shmring.Create(dir, "metrics", "/mnt/m", 16)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Observe(event.Event{Op: event.OpLookup, Door: event.DoorFUSE, Outcome: event.Served, Latency: 3 * time.Microsecond})
	w.Observe(event.Event{Op: opOpenat, Door: event.DoorRun, Outcome: event.Error, Errno: unix.ENOENT, Latency: time.Millisecond})
	w.Observe(event.Event{Op: event.OpLookup, Door: event.DoorFUSE, Outcome: event.Expected, Errno: unix.ENOENT, Latency: time.Microsecond})
	w.SetGauges(5, 100, 4096, 1<<20)
	seg, err := shmring.Open(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	srv, err := Listen("127.0.0.1:0", NewCollector(seg.Snapshot, "/mnt/m"), slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`btfuse_operations_total{door="fuse",mount="/mnt/m",op="LOOKUP",outcome="served"} 1`,
		`btfuse_operations_total{door="run",mount="/mnt/m",op="openat",outcome="error"} 1`,
		`btfuse_operation_duration_seconds_bucket{door="fuse",mount="/mnt/m",op="LOOKUP",outcome="served",le="4e-06"} 1`,
		`btfuse_operation_duration_seconds_bucket{door="run",mount="/mnt/m",op="openat",outcome="error",le="0.000512"} 0`,
		`btfuse_operation_duration_seconds_count{door="run",mount="/mnt/m",op="openat",outcome="error"} 1`,
		`btfuse_operations_total{door="fuse",mount="/mnt/m",op="LOOKUP",outcome="expected"} 1`,
		`btfuse_ring_events_total{mount="/mnt/m"} 3`,
		`btfuse_inodes_used{mount="/mnt/m"} 5`,
		`btfuse_bytes_capacity{mount="/mnt/m"} 1.048576e+06`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in:\n%s", want, grep(body, "btfuse_"))
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
