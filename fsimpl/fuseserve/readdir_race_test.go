package fuseserve_test

import (
	"fmt"
	"testing"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestReaddirWhileRenaming reads one directory stream in small getdents64
// calls through the FUSE door while a goroutine renames entries: within
// the directory, or into it and out again faster than the reader reads.
// The same scenario runs on a kernel tmpfs first; both must keep the rule
// of posixtest.ReaddirRace: no name twice, no more entries than the
// directory held, and the pass ends.
func TestReaddirWhileRenaming(t *testing.T) {
	for _, c := range []posixtest.ReaddirRace{
		{Files: 2000, BufSize: 512, Seed: 1},
		{Files: 500, BufSize: 512, Into: true, Seed: 2},
	} {
		t.Run(fmt.Sprintf("into=%v", c.Into), func(t *testing.T) {
			for side, dir := range map[string]string{
				"tmpfs":  testutil.TmpfsDir(t),
				"btfuse": mustMount(t, fuseserve.Options{}).dir,
			} {
				r, err := c.Run(dir)
				if err != nil {
					t.Fatalf("%s: %v", side, err)
				}
				for _, p := range r.Problems() {
					t.Errorf("%s: %s", side, p)
				}
				t.Logf("%s: %d entries of %d in %d calls, %d renames", side, r.Entries, r.Files, r.Calls, r.Renames)
			}
		})
	}
}
