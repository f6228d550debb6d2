package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/daemon"
	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/shmring"
)

// staleData is what TestE2EStaleMountMemory writes, and staleHeld the
// growth of Shmem above which it counts the data as still in memory: half
// of it, so that what other processes allocate or free meanwhile cannot
// tip the verdict.
const (
	staleData = 512 << 20
	staleHeld = staleData / 2
)

// shmemBytes is the Shmem line of /proc/meminfo: tmpfs and shared memory
// pages of the whole machine.
func shmemBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Shmem:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v << 10
		}
	}
	t.Fatal("no Shmem in /proc/meminfo")
	return 0
}

// TestE2EStaleMountMemory pins what a SIGKILLed root daemon leaves behind
// and when it goes. A file opened through the FUSE door (passthrough)
// before the kill stays writable: its writes keep succeeding into the
// private backing tmpfs nobody can reach any more. That tmpfs, with all
// the daemon's files in it, stays in memory while the stale mount exists,
// even after the descriptor is closed (the dead connection still holds
// the backing file registered for passthrough), and while any descriptor
// opened on the mount is still open after it is unmounted. 'btfuse umount'
// clears the stale mount and says which of the two it is; the memory is
// gone once both have happened, in either order. daemon.StaleMounts lists
// the mount meanwhile, with the descriptors held on it.
func TestE2EStaleMountMemory(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, mode := range []string{"close-then-umount", "umount-then-close"} {
		t.Run(mode, func(t *testing.T) { staleMemory(t, mode) })
	}
}

func staleMemory(t *testing.T, mode string) {
	t.Cleanup(func() { shmring.Sweep("") })
	dir, runtime := mountDirs(t)
	d := startDaemon(t, runtime, dir)
	if !strings.Contains(d.out.String(), "FUSE data: passthrough") {
		t.Fatalf("the FUSE door does not use passthrough: %s", d.out)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clearStaleMount(t, dir, st.Dev) })
	f, err := os.OpenFile(filepath.Join(dir, "f"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'x'}, 1<<20)
	base := shmemBytes(t)
	for range staleData / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	held := func(when string, want bool) {
		t.Helper()
		if want {
			// Not freed a moment later either (the kernel may defer the
			// last release of a file to a work queue).
			time.Sleep(500 * time.Millisecond)
		}
		deadline := time.Now().Add(30 * time.Second) // a hang guard: freeing may be deferred
		for {
			grown := shmemBytes(t) - base
			if (grown > staleHeld) == want {
				t.Logf("%s: Shmem +%d MiB", when, grown>>20)
				return
			}
			if want || time.Now().After(deadline) {
				t.Fatalf("%s: Shmem +%d MiB, want the %d MiB written %s", when, grown>>20, staleData>>20,
					map[bool]string{true: "still in memory", false: "released"}[want])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	held("written", true)
	d.signal(t, syscall.SIGKILL)
	d.wait(t)

	if _, err := f.Write(chunk); err != nil {
		t.Errorf("a passthrough write after the daemon died: %v; the kernel used to take it", err)
	}
	stale, err := daemon.StaleMounts(5*time.Second, func(m *mountinfo.Mount) bool { return m.Point == dir }) // not the mounts of tests running beside
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range stale {
		if s.Point == dir {
			found = true
			if s.Hung || s.Files != 1 || len(s.Holders) != 1 || s.Holders[0] != os.Getpid() {
				t.Errorf("StaleMounts: %+v, want one descriptor held by %d", s, os.Getpid())
			}
		}
	}
	if !found {
		t.Errorf("StaleMounts does not list %s: %+v", dir, stale)
	}

	umount := func(want string) {
		t.Helper()
		code, out, errOut := runBtfuse(t, runtime, "umount", dir)
		if code != 0 || !strings.Contains(out, "cleared the stale FUSE mount") || !strings.Contains(out, want) {
			t.Fatalf("umount of the stale mount: exit %d, stdout %q, stderr %q; want it to say %q", code, out, errOut, want)
		}
	}
	if mode == "close-then-umount" {
		f.Close()
		held("closed, stale mount still there", true)
		umount("the dead daemon's files are released: nothing holds them open")
		held("closed and unmounted", false)
		return
	}
	umount(fmt.Sprintf("until the descriptors open on it are closed (1, held by pids %d)", os.Getpid()))
	held("unmounted, descriptor still open", true)
	if _, err := f.Write(chunk); err != nil {
		t.Errorf("a passthrough write after the unmount: %v; the kernel used to take it", err)
	}
	f.Close()
	held("unmounted and closed", false)
}
