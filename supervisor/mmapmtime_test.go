package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// mmapMtimeHelper writes a file, then writes it again through a shared
// mapping and msyncs, and reports whether stat shows a newer mtime once
// the attribute timeout has passed: the first store to a page mapped
// shared updates the time of the mapped file
// (mm/memory.c:fault_dirty_shared_page() -> file_update_time()).
func mmapMtimeHelper(dir string) []string {
	p := filepath.Join(dir, "mm")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		return []string{err.Error()}
	}
	var before, after unix.Stat_t
	if err := unix.Stat(p, &before); err != nil {
		return []string{err.Error()}
	}
	time.Sleep(50 * time.Millisecond) // a coarse clock must tick
	fd, err := unix.Open(p, unix.O_RDWR, 0)
	if err != nil {
		return []string{err.Error()}
	}
	defer unix.Close(fd)
	m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return []string{err.Error()}
	}
	defer unix.Munmap(m)
	m[0] = 'x'
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		return []string{"msync: " + err.Error()}
	}
	time.Sleep(1500 * time.Millisecond) // past the FUSE attribute timeout
	if err := unix.Stat(p, &after); err != nil {
		return []string{err.Error()}
	}
	if after.Mtim == before.Mtim {
		return []string{fmt.Sprintf("mtime still %d.%09d after a store through a shared mapping", before.Mtim.Sec, before.Mtim.Nsec)}
	}
	return nil
}

// TestMmapWriteMovesMtime: a store through a shared mapping moves the
// file's mtime on tmpfs, through the FUSE door and under run.
func TestMmapWriteMovesMtime(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	plain := func(dir string) string {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=mmapmtime", MountEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return ""
	}
	if msg := plain(ref); msg != "" {
		t.Fatalf("tmpfs: %s", msg)
	}
	if msg := plain(s.Dir); msg != "" {
		t.Errorf("fuse: %s", msg)
	}
	if code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=mmapmtime"); code != 0 {
		t.Errorf("run: exit %d: %s", code, strings.TrimSpace(out+errs))
	}
}
