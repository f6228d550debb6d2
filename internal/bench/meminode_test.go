// Package bench holds measurements that span packages: what one inode costs
// in daemon and kernel memory at scale.
package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkInodeMemory creates b.N empty regular files (1000 per directory)
// and reports what each costs: Go heap of the daemon's metadata and kernel
// memory (slab + shmem) of the backing files. Run with -benchtime=1000000x
// for the 1M-file figure:
//
//	go test -run '^$' -bench InodeMemory -benchtime 1000000x ./internal/bench
func BenchmarkInodeMemory(b *testing.B) {
	testutil.RequirePrivileged(b)
	fs, err := fsimpl.New(fsimpl.Options{Backing: fsimpl.BackingTmpfs, Inodes: uint64(b.N) + 1<<16})
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	fds0 := openFDs(b)

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	k0 := kernelBytes(b)
	b.ResetTimer()

	var dir fsimpl.Ino
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			a, e := fs.Mkdir(fsimpl.Root, fsimpl.RootIno, "d"+strconv.Itoa(i/1000), 0o755)
			if e != 0 {
				b.Fatalf("mkdir: %v", e)
			}
			dir = a.Ino
		}
		if _, e := fs.Mknod(fsimpl.Root, dir, "f"+strconv.Itoa(i), unix.S_IFREG|0o644, 0); e != 0 {
			b.Fatalf("mknod %d: %v", i, e)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	k1 := kernelBytes(b)
	n := float64(b.N)
	b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heapB/inode")
	b.ReportMetric(float64(k1-k0)/n, "kernelB/inode")
	b.ReportMetric(float64(openFDs(b)-fds0), "fds")
}

// kernelBytes sums Slab and Shmem from /proc/meminfo: tmpfs inodes and
// dentries live in slab caches, file pages in shmem.
func kernelBytes(tb testing.TB) uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && (fields[0] == "Slab:" || fields[0] == "Shmem:") {
			kb, _ := strconv.ParseUint(fields[1], 10, 64)
			total += kb * 1024
		}
	}
	return total
}

func openFDs(tb testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(fmt.Errorf("count fds: %w", err))
	}
	return len(ents)
}
