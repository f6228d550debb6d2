package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// BenchmarkFloor measures what the machine charges for the mechanisms
// 'btfuse run' is made of, with no btfuse code in the way
// (testdata/floor.c), so that a lane's cost can be split into the floor
// and its own part:
//
//   - notify-thread-us: a notified syscall answered by a thread of the
//     caller's own process;
//   - notify-process-us: the same answered by another process, as the
//     daemon answers every lane request: the difference is the two
//     address-space switches, which a virtual machine may charge far more
//     for than bare metal;
//   - stat-ns and stat-filtered-ns: a stat without a filter and under one
//     that runs on every call (as the fast filter does for a call from the
//     trampoline): what no library can take off a path call outside the
//     mount.
//
// Rounds are interleaved; each metric is the median over b.N rounds.
//
//	go test -run '^$' -bench Floor -benchtime 5x ./supervisor/
func BenchmarkFloor(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "floor")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", bin, "../testdata/floor.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	run := func(args ...string) []float64 {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			b.Fatalf("floor %v: %v", args, err)
		}
		var v []float64
		for _, f := range strings.Fields(string(out)) {
			var x float64
			if _, err := fmt.Sscan(f, &x); err != nil {
				b.Fatalf("floor %v printed %q", args, out)
			}
			v = append(v, x)
		}
		return v
	}
	m := map[string][]float64{}
	for i := 0; i < b.N; i++ {
		m["notify-thread-us"] = append(m["notify-thread-us"], run("thread", "20000")[0])
		m["notify-process-us"] = append(m["notify-process-us"], run("process", "20000")[0])
		st := run("filter", "200000", self)
		if len(st) != 2 {
			b.Fatalf("floor filter printed %v", st)
		}
		m["stat-ns"] = append(m["stat-ns"], st[0])
		m["stat-filtered-ns"] = append(m["stat-filtered-ns"], st[1])
	}
	b.ResetTimer()
	for name, v := range m {
		slices.Sort(v)
		b.ReportMetric(v[len(v)/2], name)
	}
	b.ReportMetric(0, "ns/op")
}
