package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// readdirRaces are the scenarios of TestRunReaddirWhileRenaming, by name.
var readdirRaces = map[string]posixtest.ReaddirRace{
	"within": {Files: 2000, BufSize: 512, Seed: 1},
	"into":   {Files: 500, BufSize: 512, Into: true, Seed: 2},
}

// readdirRaceHelper runs the scenario named by BTFUSE_READDIR_RACE in a
// fresh directory under mount and returns how it broke the rule.
func readdirRaceHelper(mount string) []string {
	name := os.Getenv("BTFUSE_READDIR_RACE")
	dir := filepath.Join(mount, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return []string{err.Error()}
	}
	r, err := readdirRaces[name].Run(dir)
	if err != nil {
		return []string{err.Error()}
	}
	fmt.Printf("%d entries of %d in %d calls, %d renames\n", r.Entries, r.Files, r.Calls, r.Renames)
	return r.Problems()
}

// TestRunReaddirWhileRenaming: a process under btfuse run reads one
// directory stream in small getdents64 calls (through the FUSE mount: the
// supervisor leaves directory opens to the kernel) while one of its
// threads renames entries (served by the supervisor): within the
// directory, or into it and out again faster than it reads. As on tmpfs,
// where the same scenario runs first: no name twice, no more entries than
// the directory held, and the pass ends.
func TestRunReaddirWhileRenaming(t *testing.T) {
	s := startSupervised(t)
	for _, name := range []string{"within", "into"} {
		t.Run(name, func(t *testing.T) {
			ref, err := readdirRaces[name].Run(testutil.TmpfsDir(t))
			if err != nil {
				t.Fatalf("tmpfs: %v", err)
			}
			for _, p := range ref.Problems() {
				t.Errorf("tmpfs: %s", p)
			}
			code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=readdirrace", "BTFUSE_READDIR_RACE="+name)
			if code != 0 {
				t.Errorf("under run: exit %d\n%s%s", code, out, errs)
			}
			t.Logf("tmpfs: %d entries of %d; under run: %s", ref.Entries, ref.Files, out)
		})
	}
}
