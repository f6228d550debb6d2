package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
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
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	seeds, n, err := posixtest.RandomConfig([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 3000)
	if err != nil {
		t.Fatal(err)
	}
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	// The first seeds run a second time inside a private mount namespace
	// (unshare -m): the supervisor then leaves every call to the kernel,
	// and the sequence must still give tmpfs's answers.
	type variant struct {
		name string
		wrap []string
		seed uint64
	}
	var runs []variant
	for _, seed := range seeds {
		runs = append(runs, variant{fmt.Sprintf("seed=%d", seed), nil, seed})
	}
	for _, seed := range seeds[:min(2, len(seeds))] {
		runs = append(runs, variant{fmt.Sprintf("unshare-m/seed=%d", seed), []string{"unshare", "-m", "--propagation", "slave"}, seed})
	}
	for _, v := range runs {
		seed := v.seed
		t.Run(v.name, func(t *testing.T) {
			name := strings.ReplaceAll(v.name, "/", "-")
			for _, d := range []string{filepath.Join(ref, name), filepath.Join(s.Dir, name)} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := s.run(t, append(v.wrap, os.Args[0]), "BTFUSE_TEST_HELPER=random",
				"BTFUSE_RANDOM_REF="+filepath.Join(ref, name), "BTFUSE_RANDOM_DIR="+filepath.Join(s.mount, name),
				fmt.Sprintf("BTFUSE_RANDOM_SEED=%d", seed), fmt.Sprintf("BTFUSE_RANDOM_OPS=%d", n))
			if code != 0 {
				t.Errorf("seed %d under run (rerun: BTFUSE_RANDOM_SEEDS=%d BTFUSE_RANDOM_OPS=%d go test -run TestRunRandom ./supervisor): exit %d\n%s%s",
					seed, seed, n, code, out, errs)
			}
		})
	}
}
