package e2e

import (
	"testing"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/sysctltest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestPosix runs every case of the conformance suite on tmpfs and on each
// target and compares the transcripts.
func TestPosix(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ref, got := referenceDir(t), tg.mount(t)
			for _, c := range posixtest.Cases {
				t.Run(c.Name, func(t *testing.T) {
					compareTranscripts(t, tg.name, posixtest.RunCase(c, ref), posixtest.RunCase(c, got))
				})
			}
		})
	}
}

// TestPosixDeterministic runs the suite twice on tmpfs: a transcript that
// differs between two kernel tmpfs mounts records something that is not
// the filesystem's to decide, and would make TestPosix flaky.
func TestPosixDeterministic(t *testing.T) {
	sysctltest.Shared(t) // compared with the kernel under the fs.protected_* sysctls of now
	testutil.RequirePrivileged(t)
	a, b := referenceDir(t), referenceDir(t)
	for _, c := range posixtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			compareTranscripts(t, "tmpfs#2", posixtest.RunCase(c, a), posixtest.RunCase(c, b))
		})
	}
}
