package supervisor

import (
	"bytes"
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

// One file, two doors, shared mappings. What the design guarantees:
//
//   - A write through a served descriptor (run) goes to the backing file.
//     With FUSE passthrough the FUSE door maps that same backing file, so a
//     mapping made through FUSE sees it at once, before the writer closes.
//     Without passthrough (close-to-open) the FUSE door has its own page
//     cache: a mapping made through FUSE sees the write once the writer has
//     closed, when the supervisor's writer watch tells the FUSE door to drop
//     the inode's pages (FUSE_NOTIFY_INVAL_INODE); before that it may show
//     the old data.
//   - A write through FUSE (write(2), or a store into a shared FUSE mapping
//     followed by msync(MS_SYNC)) has reached the backing file when the call
//     returns, in both modes (no writeback cache), so a mapping of the served
//     descriptor in a run target sees it at once.

//
// The FUSE side runs in a plain child process, never in this test process:
// a goroutine that faults on a FUSE mapping served by its own process is
// not at a safe point, so a garbage collection that starts meanwhile waits
// for it while the FUSE server it waits for is stopped (a deadlock).

const mmapSize = 8192

// passthroughEnv tells the plain-process helpers which mode the mount is in.
const passthroughEnv = "BTFUSE_TEST_PASSTHROUGH"

// mmapWait waits for path to exist (stat through whichever door the caller
// is behind); flush, when set, pushes queued FUSE invalidations first.
func mmapWait(path string, flush func()) error {
	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for {
		if flush != nil {
			flush()
		}
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never appeared", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// mmapWriterHelper runs under run: it writes into mount/f through its
// served descriptor while fusemmapreader holds a FUSE mapping of it, in
// steps paced by marker files.
func mmapWriterHelper(mount string) []string {
	if err := mmapWait(mount+"/reader-ready", nil); err != nil {
		return []string{err.Error()}
	}
	f := filepath.Join(mount, "f")
	fd, err := unix.Open(f, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	if _, err := unix.Pwrite(fd, []byte("one"), 0); err != nil {
		return []string{"pwrite one: " + err.Error()}
	}
	if err := os.WriteFile(mount+"/w1", nil, 0o644); err != nil {
		return []string{err.Error()}
	}
	if err := mmapWait(mount+"/r1", nil); err != nil {
		return []string{err.Error()}
	}
	if _, err := unix.Pwrite(fd, []byte("two"), 4096); err != nil {
		return []string{"pwrite two: " + err.Error()}
	}
	if err := unix.Close(fd); err != nil {
		return []string{"close: " + err.Error()}
	}
	if err := os.WriteFile(mount+"/w2", nil, 0o644); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// mapForReading opens path read-only and maps its first mmapSize bytes
// shared; unmap undoes both.
func mapForReading(path string) (fd int, m []byte, unmap func(), err error) {
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, nil, fmt.Errorf("open: %w", err)
	}
	m, err = unix.Mmap(fd, 0, mmapSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return -1, nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return fd, m, func() { unix.Munmap(m); unix.Close(fd) }, nil
}

// mmapReaderHelper runs under run: it maps mount/g through its served
// descriptor and checks what the test writes through FUSE, in steps paced
// by marker files. Every check is immediate: no polling.
func mmapReaderHelper(mount string) []string {
	fd, m, unmap, err := mapForReading(mount + "/g")
	if err != nil {
		return []string{err.Error()}
	}
	defer unmap()
	var fails []string
	if !bytes.Equal(m[:3], []byte{0, 0, 0}) {
		fails = append(fails, fmt.Sprintf("before any write: %q", m[:3]))
	}
	for _, step := range []struct {
		wait, ack string
		off       int
		want      string
	}{
		{"fw1", "rd1", 0, "abc"},    // write(2) through FUSE
		{"fw2", "rd2", 4096, "xyz"}, // store into a FUSE mapping + msync
	} {
		if err := os.WriteFile(mount+"/ready-"+step.wait, nil, 0o644); err != nil {
			return append(fails, err.Error())
		}
		if err := mmapWait(mount+"/"+step.wait, nil); err != nil {
			return append(fails, err.Error())
		}
		if got := string(m[step.off : step.off+3]); got != step.want {
			fails = append(fails, fmt.Sprintf("after %s: mapping shows %q at %d, want %q", step.wait, got, step.off, step.want))
		}
		buf := make([]byte, 3)
		if _, err := unix.Pread(fd, buf, int64(step.off)); err != nil || string(buf) != step.want {
			fails = append(fails, fmt.Sprintf("after %s: pread %q, %v", step.wait, buf, err))
		}
		if err := os.WriteFile(mount+"/"+step.ack, nil, 0o644); err != nil {
			return append(fails, err.Error())
		}
	}
	return fails
}

// fuseMmapReaderHelper runs in a plain process, through FUSE: it maps
// mount/f and checks what mmapwriter writes through run.
func fuseMmapReaderHelper(mount string) []string {
	passthrough := os.Getenv(passthroughEnv) == "1"
	_, m, unmap, err := mapForReading(mount + "/f")
	if err != nil {
		return []string{err.Error()}
	}
	defer unmap()
	if m[0] != 0 || m[4096] != 0 { // both pages now in the FUSE door's cache
		return []string{"fresh file not zero"}
	}
	var fails []string
	if err := os.WriteFile(mount+"/reader-ready", nil, 0o644); err != nil {
		return []string{err.Error()}
	}
	if err := mmapWait(mount+"/w1", nil); err != nil {
		return []string{err.Error()}
	}
	// The writer still holds its descriptor open.
	if got := string(m[:3]); passthrough && got != "one" {
		fails = append(fails, fmt.Sprintf("passthrough: FUSE mapping shows %q while the run writer is open, want %q (same backing pages)", got, "one"))
	} else if !passthrough {
		fmt.Printf("close-to-open: FUSE mapping shows %q while the run writer is open (no guarantee)\n", got)
	}
	if err := os.WriteFile(mount+"/r1", nil, 0o644); err != nil {
		return append(fails, err.Error())
	}
	if err := mmapWait(mount+"/w2", nil); err != nil {
		return append(fails, err.Error())
	}
	// The writer has closed.
	if passthrough {
		if got := string(m[4096:4099]) + string(m[:3]); got != "twoone" {
			fails = append(fails, fmt.Sprintf("passthrough: FUSE mapping shows %q after the writer closed, want %q", got, "twoone"))
		}
		return fails
	}
	// The writer watch notices the close within a few ticks and
	// invalidates the inode: wait for it (bounded), then the mapping must
	// show both writes.
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for string(m[4096:4099])+string(m[:3]) != "twoone" {
		if time.Now().After(deadline) {
			return append(fails, fmt.Sprintf("close-to-open: FUSE mapping shows %q %q after the writer closed, want the new data", m[:3], m[4096:4099]))
		}
		time.Sleep(watchPeriod)
	}
	return fails
}

// fuseMmapWriterHelper runs in a plain process, through FUSE: it writes
// mount/g with write(2), then with a store into a shared mapping and
// msync, for mmapreader to check.
func fuseMmapWriterHelper(mount string) []string {
	fd, err := unix.Open(mount+"/g", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	defer unix.Close(fd)
	if err := mmapWait(mount+"/ready-fw1", nil); err != nil {
		return []string{err.Error()}
	}
	if _, err := unix.Pwrite(fd, []byte("abc"), 0); err != nil {
		return []string{"pwrite: " + err.Error()}
	}
	if err := os.WriteFile(mount+"/fw1", nil, 0o644); err != nil {
		return []string{err.Error()}
	}
	if err := mmapWait(mount+"/ready-fw2", nil); err != nil {
		return []string{err.Error()}
	}
	m, err := unix.Mmap(fd, 0, mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return []string{"mmap: " + err.Error()}
	}
	defer unix.Munmap(m)
	copy(m[4096:], "xyz")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		return []string{"msync: " + err.Error()}
	}
	if err := os.WriteFile(mount+"/fw2", nil, 0o644); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// mmapPair runs the helper plain (through FUSE) and the helper run under
// the supervisor at the same time, and reports what either said failed.
func mmapPair(t *testing.T, s *supervised, passthrough bool, plain, run string) {
	pt := "0"
	if passthrough {
		pt = "1"
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER="+plain, MountEnv+"="+s.mount, passthroughEnv+"="+pt)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var plainErr error
	plainDone := make(chan struct{})
	go func() { plainErr = cmd.Wait(); close(plainDone) }()
	t.Cleanup(func() {
		select {
		case <-plainDone:
		default:
			cmd.Process.Kill()
			<-plainDone
		}
	})
	code, rout, rerr := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER="+run)
	if code != 0 {
		t.Errorf("%s under run: exit %d\n%s%s", run, code, rout, rerr)
	}
	select {
	case <-plainDone:
		if plainErr != nil {
			t.Errorf("%s through FUSE: %v\n%s", plain, plainErr, &out)
		} else if out.Len() > 0 {
			t.Logf("%s: %s", plain, &out)
		}
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Errorf("%s through FUSE did not finish", plain)
	}
}

// mmapModes runs f once with FUSE passthrough and once in close-to-open.
func mmapModes(t *testing.T, f func(t *testing.T, s *supervised, passthrough bool)) {
	for _, mode := range []struct {
		name string
		opts []testutil.MountOption
	}{
		{"passthrough", nil},
		{"close-to-open", []testutil.MountOption{testutil.NoPassthrough()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := startSupervised(t, mode.opts...)
			pt := s.Server.Passthrough()
			if mode.opts == nil && !pt {
				testutil.SkipOrFail(t, "FUSE passthrough is unavailable here ("+s.Server.Mode()+")")
			}
			f(t, s, pt)
		})
	}
}

// TestMmapFUSEReaderRunWriter: a plain process maps a file through FUSE; a
// run target writes it through its served descriptor.
func TestMmapFUSEReaderRunWriter(t *testing.T) {
	mmapModes(t, func(t *testing.T, s *supervised, passthrough bool) {
		if err := os.WriteFile(filepath.Join(s.Dir, "f"), make([]byte, mmapSize), 0o644); err != nil {
			t.Fatal(err)
		}
		mmapPair(t, s, passthrough, "fusemmapreader", "mmapwriter")
	})
}

// TestMmapRunReaderFUSEWriter: a run target maps a file through its served
// descriptor; a plain process writes it through FUSE, with write(2) and
// then with a store into a shared FUSE mapping and msync.
func TestMmapRunReaderFUSEWriter(t *testing.T) {
	mmapModes(t, func(t *testing.T, s *supervised, passthrough bool) {
		if err := os.WriteFile(filepath.Join(s.Dir, "g"), make([]byte, mmapSize), 0o644); err != nil {
			t.Fatal(err)
		}
		mmapPair(t, s, passthrough, "fusemmapwriter", "mmapreader")
	})
}
