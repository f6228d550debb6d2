package fsimpl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// diffSeeds is how many random sequences TestDifferentialTmpfs runs per
// backing: BTFUSE_DIFF_SEEDS, else 8 (2 with -short).
func diffSeeds() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("BTFUSE_DIFF_SEEDS"), 10, 64); err == nil {
		return n
	}
	if testing.Short() {
		return 2
	}
	return 8
}

// diffOps is the length of each sequence.
const diffOps = 1500

// TestDifferentialTmpfs runs posixtest's names sequences (a mix of
// credentials, file types, modes and owners), in lockstep, against a
// kernel tmpfs through kernel paths and against fsimpl through its *At
// operations (fsDoor), comparing every result and, every 50 steps, the
// whole trees, directory sizes included. Each sequence runs twice: with
// umask 0 and with 022.
func TestDifferentialTmpfs(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	for _, kind := range []fsimpl.BackingKind{fsimpl.BackingShm, fsimpl.BackingTmpfs} {
		for _, umask := range []uint32{0, 0o022} {
			t.Run(fmt.Sprintf("%s/umask=%03o", kind, umask), func(t *testing.T) {
				old := unix.Umask(int(umask))
				t.Cleanup(func() { unix.Umask(old) })
				for seed := uint64(1); seed <= diffSeeds(); seed++ {
					ref := tmpfsRoot(t)
					l := posixtest.Lockstep{
						Ref:      posixtest.OpenEngine(ref),
						Got:      fsDoor{fs: newFS(t, kind), umask: umask},
						Every:    50,
						DirSizes: true,
					}
					if err := l.Run(posixtest.GenerateNames(seed, diffOps)); err != nil {
						t.Fatalf("seed %d (BTFUSE_DIFF_SEEDS=%d reruns seeds 1 to %d):\n%v", seed, seed, seed, err)
					}
				}
			})
		}
	}
}

// tmpfsRoot is a fresh tmpfs, mode 0755 and owned by root, that the test
// users can reach.
func tmpfsRoot(tb testing.TB) string {
	tb.Helper()
	dir := testutil.TmpfsDir(tb)
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// newFS is an empty filesystem on backing kind, closed when the test ends.
func newFS(tb testing.TB, kind fsimpl.BackingKind) *fsimpl.FS {
	tb.Helper()
	fs, err := fsimpl.New(fsimpl.Options{Backing: kind, SizeBytes: 64 << 20, Inodes: 1 << 16})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := fs.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return fs
}
