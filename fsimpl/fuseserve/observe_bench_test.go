package fuseserve_test

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/shmring"
)

// BenchmarkObserverHook is the cost of the Observer hook on the FUSE door:
// stat of /d/f through two mounts in one run, one unobserved and one
// reporting to a shared-memory segment. Both run in close-to-open mode,
// where a regular file's attributes are not cached, so that every stat is
// a GETATTR request.
func BenchmarkObserverHook(b *testing.B) {
	w, err := shmring.Create(shmring.DefaultDir, "bench-"+strconv.Itoa(os.Getpid()), "/bench", 0)
	if err != nil {
		b.Skipf("no shared memory segment: %v", err)
	}
	b.Cleanup(func() { w.Close() })
	for _, c := range []struct {
		name string
		obs  event.Observer
	}{{"none", nil}, {"observer", w}} {
		m := mustMount(b, fuseserve.Options{DisablePassthrough: true, Observer: c.obs})
		if err := os.Mkdir(m.path("d"), 0o755); err != nil {
			b.Fatal(err)
		}
		mustWriteFile(b, m.path("d/f"), nil)
		p := m.path("d/f")
		b.Run(c.name, func(b *testing.B) {
			var st unix.Stat_t
			for b.Loop() {
				if err := unix.Stat(p, &st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
