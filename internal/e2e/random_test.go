package e2e

import (
	"errors"
	"fmt"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// Default size of TestRandom: per target, len(defaultSeeds) sequences of
// defaultOps operations each.
const defaultOps = 10000

var defaultSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// shrinkBudget bounds the operations replayed to shrink a failure. Only the
// first failure of each target is shrunk, which keeps a failing run short.
const shrinkBudget = 60000

// randomConfig reads BTFUSE_RANDOM_SEEDS (comma-separated) and
// BTFUSE_RANDOM_OPS, which reproduce a failure.
func randomConfig(tb testing.TB) (seeds []uint64, n int) {
	tb.Helper()
	seeds = defaultSeeds
	if raceEnabled {
		seeds = seeds[:2] // the race detector slows this syscall-heavy test ~3x
	}
	seeds, n, err := posixtest.RandomConfig(seeds, defaultOps)
	if err != nil {
		tb.Fatal(err)
	}
	return seeds, n
}

// TestRandom applies seeded random operation sequences to tmpfs and to each
// target in lockstep, comparing every result and, at the end, the trees. On
// a mismatch it prints the seed and step, how to rerun just that, and for
// the first failure of a target a shrunk sequence that still fails.
func TestRandom(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	seeds, n := randomConfig(t)
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ref, got := referenceDir(t), tg.mount(t)
			shrunk := false
			for _, seed := range seeds {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					ops := posixtest.Generate(seed, n)
					dirs := mkdirs(t, fmt.Sprintf("seed-%d", seed), ref, got)
					err := posixtest.RunLockstep(ops, dirs[0], dirs[1])
					if err == nil {
						return
					}
					t.Errorf("seed %d (rerun: BTFUSE_RANDOM_SEEDS=%d BTFUSE_RANDOM_OPS=%d go test -run 'TestRandom/%s' ./internal/e2e):\n%v",
						seed, seed, n, tg.name, err)
					if !shrunk {
						shrunk = true
						shrink(t, ops, err, ref, got)
					}
				})
			}
		})
	}
}

// shrink reports a shorter sequence that fails like ops did, replayed in
// fresh directories under ref and got.
func shrink(t *testing.T, ops []posixtest.Op, err error, ref, got string) {
	var m *posixtest.Mismatch
	if errors.As(err, &m) {
		ops = ops[:m.Step+1]
	}
	attempt := 0
	replay := func(cand []posixtest.Op) error {
		attempt++
		d := mkdirs(t, fmt.Sprintf("shrink-%d", attempt), ref, got)
		return posixtest.RunLockstep(cand, d[0], d[1])
	}
	small := posixtest.Shrink(ops, func(cand []posixtest.Op) bool { return replay(cand) != nil }, shrinkBudget)
	t.Errorf("shrunk to %d of %d steps:\n%sfailing with:\n%v", len(small), len(ops), posixtest.FormatOps(small), replay(small))
}
