package fastlane_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkChannel measures each op class the channel serves in five
// ways, interleaved round by round so that the machine's load falls on all
// alike: native (a tmpfs), fuse (the FUSE mount, unsupervised), run (the
// seccomp lane: the raw syscall under 'btfuse run'), fast (the channel,
// under 'btfuse run' with the fast lane's filter: requests ring the
// doorbell) and futex (the same without the doorbell, BTFUSE_FAST_RING=0:
// the worker's bell socket and the slot's futex). Each round is one process per way making
// calls in a loop; the metrics are the medians over the rounds (b.N), in
// ns per call (per open+read+close, create+write+close, mkdir+rmdir), and
// the ratios to native. Run with -benchtime 5x.
func BenchmarkChannel(b *testing.B) {
	l := startLane(b)
	l.withLib(b)
	native := b.TempDir()
	if err := unix.Mount("tmpfs", native, "tmpfs", 0, "size=16m"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Unmount(native, unix.MNT_DETACH) })
	for _, dir := range []string{native, l.mount} {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
			b.Fatal(err)
		}
	}
	const calls = "5000"
	// open: open+read 4K+close of a file; create: open O_CREAT|O_TRUNC
	// +write 4K+close of one name, again and again; mkdir: mkdir+rmdir.
	for _, op := range []struct{ name, file string }{{"stat", "f"}, {"access", "f"}, {"readlink", "link"},
		{"open", "f"}, {"create", "c"}, {"mkdir", "m"}} {
		b.Run(op.name, func(b *testing.B) {
			ns := map[string][]float64{}
			for i := 0; i < b.N; i++ {
				ns["native"] = append(ns["native"], parseNs(b, l.plain(b, "bench", calls, "sys-"+op.name, filepath.Join(native, op.file))))
				ns["fuse"] = append(ns["fuse"], parseNs(b, l.plain(b, "bench", calls, "sys-"+op.name, filepath.Join(l.mount, op.file))))
				ns["run"] = append(ns["run"], parseNs(b, l.supervised(b, "bench", calls, "sys-"+op.name, filepath.Join(l.mount, op.file))))
				ns["fast"] = append(ns["fast"], parseNs(b, l.supervisedFast(b, "bench", calls, "chan-"+op.name, filepath.Join(l.mount, op.file))))
				os.Setenv("BTFUSE_FAST_RING", "0")
				ns["futex"] = append(ns["futex"], parseNs(b, l.supervisedFast(b, "bench", calls, "chan-"+op.name, filepath.Join(l.mount, op.file))))
				os.Unsetenv("BTFUSE_FAST_RING")
			}
			med := map[string]float64{}
			for mode, v := range ns {
				slices.Sort(v)
				med[mode] = v[len(v)/2]
				b.ReportMetric(med[mode], mode+"-ns/op")
			}
			for _, mode := range []string{"fuse", "run", "fast", "futex"} {
				b.ReportMetric(med[mode]/med["native"], mode+"/native")
			}
			b.ReportMetric(med["fast"]/med["futex"], "fast/futex")
		})
	}
}

// parseNs reads the harness's "N ns/op K failed" line; a failed call
// fails the benchmark.
func parseNs(b *testing.B, out string) float64 {
	b.Helper()
	f := strings.Fields(strings.Join(lines(out), " "))
	if len(f) < 4 || f[1] != "ns/op" {
		b.Fatalf("harness said %q", out)
	}
	if f[2] != "0" {
		b.Fatalf("harness: %s calls failed", f[2])
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

var _ = fmt.Sprint
