package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// FuzzNames feeds arbitrary bytes as names and paths to tmpfs and to btfuse
// and compares what every call answers (posixtest.Probe). Plain `go test`
// runs the seed corpus below and in testdata/fuzz/FuzzNames; `go test -fuzz
// FuzzNames ./internal/e2e` explores.
func FuzzNames(f *testing.F) {
	testutil.RequirePrivileged(f)
	tg := targets()[0]
	ref, got := referenceDir(f), tg.mount(f)
	long := func(n int) string { return strings.Repeat("n", n) }
	for _, seed := range [][2]string{
		{"a", "b"},
		{"a", "a"},
		{"d", "d/f"},
		{"a/", "b"},
		{"a", "b/"},
		{".", ".."},
		{"", "x"},
		{"x/..", "y/."},
		{"//a//", "a//b"},
		{long(255), long(256)},
		{long(256), "b"},
		{long(254) + "é", "b"},
		{"a/" + long(255), long(255) + "/b"},
		{strings.Repeat("d/", 2047), "b"},
		{"sp ace", "new\nline"},
		{"\xff\xfe", "\x01\x7f"},
		{"a", "user.name"},
		{"a", "trusted.name"},
		{"a", "security.name"},
		{"a", "system.posix_acl_access"},
		{"a", "user." + long(250)},
		{"a", "user." + long(251)},
		{"a", "user."},
		{"-", "--"},
		{"...", "...."},
		{"a", long(4095)},
		{long(4096), "b"},
	} {
		f.Add(seed[0], seed[1])
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, p1, p2 string) {
		if strings.ContainsRune(p1+p2, 0) || !posixtest.Confined(p1) || !posixtest.Confined(p2) {
			t.Skip("NUL bytes never reach a filesystem; paths must stay below the case directory")
		}
		dirs := mkdirs(t, fmt.Sprintf("case-%d", n.Add(1)), ref, got)
		t.Cleanup(func() {
			for _, d := range dirs {
				if err := os.RemoveAll(d); err != nil {
					t.Errorf("remove %s: %v", filepath.Base(d), err)
				}
			}
		})
		compareTranscripts(t, tg.name, posixtest.Probe(dirs[0], p1, p2), posixtest.Probe(dirs[1], p1, p2))
	})
}
