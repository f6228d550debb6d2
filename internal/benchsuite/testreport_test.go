package benchsuite

import (
	"time"
)

// testReport is a report as a bench of two workloads over three rounds
// would leave it: stat with per-op times, cat with wall times too, and a
// failed git.
func testReport() *Report {
	rep := &Report{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Elapsed: 12.5, Quick: true, Rounds: 3,
		Modes:    Modes,
		Machine:  Machine{Kernel: "6.18.0", CPU: "Test CPU", CPUs: 2, MemGiB: 24},
		Programs: map[string]string{"bash": "/bin/bash"},
	}
	stat := &Result{Name: "stat", Group: "micro", Per: "op", N: 1000}
	cat := &Result{Name: "cat", Group: "seed", Per: "cat", N: 50, Wall: true}
	base := map[string]float64{ModeNative: 2000, ModeFuse: 5000, ModeRun: 40000, ModeFast: 3000}
	for round := 1; round <= 3; round++ {
		for _, m := range Modes {
			f := float64(round) // medians are the round-2 values
			stat.Samples = append(stat.Samples, Sample{Round: round, Mode: m, NS: base[m] * f, Count: 1000, WallNS: int64(1e8 * f)})
			cat.Samples = append(cat.Samples, Sample{Round: round, Mode: m, NS: base[m] * 1000 * f, Count: 50, WallNS: int64(base[m] * 1e5 * f)})
		}
	}
	git := &Result{Name: "git", Group: "program", Per: "run", N: 100, Error: "git not found in PATH;\ninstall it"}
	rep.Workloads = []*Result{stat, cat, git}
	return rep
}
