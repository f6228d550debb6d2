package supervisor

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// BenchmarkEINTR counts the stat, open and unlink calls that fail with
// EINTR in a program whose timer signal handler lacks SA_RESTART
// (testdata/eintr.c), on tmpfs, through the FUSE door and under run, per
// 10,000 calls of each. The kernel's own answer is never EINTR for these;
// under run a signal that comes before the supervisor has received the
// notification interrupts the call (a seccomp user notification's wait is
// interruptible until then), so the count measures that stretch.
//
//	go test -run '^$' -bench EINTR -benchtime 1x ./supervisor/
func BenchmarkEINTR(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "eintr")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", bin, "../testdata/eintr.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v\n%s", err, out)
	}
	s := startSupervised(b)
	ref := testutil.TmpfsDir(b)
	const n = 10000
	parse := func(out string) [4]float64 {
		var c [4]float64
		if _, err := fmt.Sscan(strings.TrimSpace(out), &c[0], &c[1], &c[2], &c[3]); err != nil {
			b.Fatalf("eintr printed %q: %v", out, err)
		}
		if c[3] != 0 {
			b.Fatalf("eintr: %v calls failed otherwise", c[3])
		}
		return c
	}
	var sums [3][3]float64
	for i := 0; i < b.N; i++ {
		for j, dir := range []string{ref, s.Dir} {
			out, err := exec.Command(bin, dir, fmt.Sprint(n)).Output()
			if err != nil {
				b.Fatalf("eintr on %s: %v", dir, err)
			}
			c := parse(string(out))
			for k := range 3 {
				sums[j][k] += c[k]
			}
		}
		code, out, errs := s.run(b, []string{bin, s.mount, fmt.Sprint(n)})
		if code != 0 {
			b.Fatalf("eintr under run: exit %d %s", code, errs)
		}
		c := parse(out)
		for k := range 3 {
			sums[2][k] += c[k]
		}
	}
	for j, door := range []string{"tmpfs", "fuse", "run"} {
		for k, op := range []string{"stat", "open", "unlink"} {
			b.ReportMetric(sums[j][k]/float64(b.N), door+"-"+op+"-eintr/10k")
		}
	}
}
