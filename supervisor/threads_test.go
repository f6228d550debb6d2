package supervisor

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// Shape of the multithreaded target (helper "mtio").
const (
	mtThreads = 16
	mtRounds  = 30
)

// mtioHelper is a target doing file I/O from mtThreads OS threads at once
// (goroutines locked to their threads, so that the notifications come from
// as many TIDs of one TGID). Each thread creates, writes, reads back,
// renames, stats and unlinks its own files, moves some through a shared
// directory, appends to a shared O_APPEND log, and increments a shared
// counter under a lock file taken with O_CREAT|O_EXCL. It checks every
// result itself and returns the failures.
func mtioHelper(mount string) []string {
	root := filepath.Join(mount, "mt")
	var mu sync.Mutex
	var fails []string
	failf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(fails) < 50 {
			fails = append(fails, fmt.Sprintf(format, args...))
		}
	}
	for _, d := range []string{root, root + "/swap"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return []string{err.Error()}
		}
	}
	if err := os.WriteFile(root+"/counter", []byte("0"), 0o644); err != nil {
		return []string{err.Error()}
	}
	var wg sync.WaitGroup
	for g := 0; g < mtThreads; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread exits with the goroutine, so
			// every worker is a distinct TID for its whole life.
			runtime.LockOSThread()
			if err := mtWorker(root, g); err != nil {
				failf("thread %d: %v", g, err)
			}
		}()
	}
	wg.Wait()
	if b, err := os.ReadFile(root + "/counter"); err != nil || string(b) != strconv.Itoa(mtThreads*mtRounds) {
		failf("counter %q, %v; want %d", b, err, mtThreads*mtRounds)
	}
	log, err := os.ReadFile(root + "/shared.log")
	if err != nil {
		failf("shared log: %v", err)
	}
	if got, want := sortedLines(log), mtLogLines(); got != want {
		failf("shared log has %d bytes; lines lost or torn", len(log))
	}
	return fails
}

// mtContent is what thread g writes to its file of round i.
func mtContent(g, i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%02d:%02d|", g, i)), 1+(g*mtRounds+i)%700)
}

func mtLogLines() string {
	var b strings.Builder
	for g := 0; g < mtThreads; g++ {
		for i := 0; i < mtRounds; i++ {
			fmt.Fprintf(&b, "%02d %02d\n", g, i)
		}
	}
	return sortedLines([]byte(b.String()))
}

func sortedLines(b []byte) string {
	l := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func mtWorker(root string, g int) error {
	own := fmt.Sprintf("%s/t%02d", root, g)
	if err := os.Mkdir(own, 0o755); err != nil {
		return err
	}
	for i := 0; i < mtRounds; i++ {
		want := mtContent(g, i)
		f := fmt.Sprintf("%s/f%02d", own, i)
		fd, err := unix.Open(f, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", f, err)
		}
		if n, err := unix.Write(fd, want); err != nil || n != len(want) {
			unix.Close(fd)
			return fmt.Errorf("write %s: %d, %v", f, n, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Size != int64(len(want)) {
			unix.Close(fd)
			return fmt.Errorf("fstat %s: size %d, %v; want %d", f, st.Size, err, len(want))
		}
		half := make([]byte, len(want)/2)
		if n, err := unix.Pread(fd, half, int64(len(want)-len(half))); err != nil || n != len(half) || !bytes.Equal(half, want[len(want)-len(half):]) {
			unix.Close(fd)
			return fmt.Errorf("pread %s: %d, %v", f, n, err)
		}
		unix.Close(fd)
		r := fmt.Sprintf("%s/r%02d", own, i)
		if err := os.Rename(f, r); err != nil {
			return err
		}
		if got, err := os.ReadFile(r); err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("read %s after rename: %d bytes, %v", r, len(got), err)
		}
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s after rename: %v, want ENOENT", f, err)
		}
		if i%5 == 0 {
			// Through the shared directory and back.
			sw := fmt.Sprintf("%s/swap/%02d-%02d", root, g, i)
			if err := os.Rename(r, sw); err != nil {
				return err
			}
			if st, err := os.Stat(sw); err != nil || st.Size() != int64(len(want)) {
				return fmt.Errorf("stat %s: %v", sw, err)
			}
			if err := os.Rename(sw, r); err != nil {
				return err
			}
		}
		if i%3 == 0 {
			if err := os.Remove(r); err != nil {
				return err
			}
		}
		lf, err := os.OpenFile(root+"/shared.log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(lf, "%02d %02d\n", g, i)
		if err := errors.Join(err, lf.Close()); err != nil {
			return err
		}
		if err := mtIncrement(root); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(own)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	var want []string
	for i := 0; i < mtRounds; i++ {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("r%02d", i))
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		return fmt.Errorf("readdir %s: %v, want %v", own, names, want)
	}
	return nil
}

// mtIncrement adds one to root/counter under root/lock, a lock file whose
// O_CREAT|O_EXCL creation must succeed for exactly one thread at a time.
func mtIncrement(root string) error {
	lock := root + "/lock"
	for tries := 0; ; tries++ {
		fd, err := unix.Open(lock, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == nil {
			unix.Close(fd)
			break
		}
		if err != unix.EEXIST {
			return fmt.Errorf("take %s: %w", lock, err)
		}
		if tries > 200000 {
			return fmt.Errorf("lock %s never freed", lock)
		}
		time.Sleep(50 * time.Microsecond)
	}
	b, err := os.ReadFile(root + "/counter")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("counter %q: %w", b, err)
	}
	if err := os.WriteFile(root+"/counter", []byte(strconv.Itoa(n+1)), 0o644); err != nil {
		return err
	}
	return os.Remove(lock)
}

// treeListing describes every entry under dir: path, type, mode, size and a
// hash of the contents (of the sorted lines for the shared log, whose line
// order depends on scheduling).
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v", rel, info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if filepath.Base(p) == "shared.log" {
				data = []byte(sortedLines(data))
			}
			fmt.Fprintf(&b, " %d %x", info.Size(), sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return b.String()
}

// TestRunManyThreads runs the multithreaded target natively on tmpfs and
// supervised, compares the trees they leave (read through the FUSE door for
// btfuse), and then checks that the supervisor still serves a new target.
func TestRunManyThreads(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	native := exec.Command(os.Args[0])
	native.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=mtio", MountEnv+"="+ref)
	if out, err := native.CombinedOutput(); err != nil {
		t.Fatalf("native run: %v\n%s", err, out)
	}
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=mtio")
	if code != 0 {
		t.Fatalf("supervised run: exit %d\n%s%s", code, out, errs)
	}
	want, got := treeListing(t, ref), treeListing(t, s.Dir)
	if want != got {
		t.Errorf("trees differ\n%s", outputDiff(want, got))
	}
	served, _, _, gone := s.sup.StatsSnapshot()
	if served < mtThreads*mtRounds*5 {
		t.Errorf("served %d syscalls, want at least %d", served, mtThreads*mtRounds*5)
	}
	if gone != 0 {
		t.Errorf("%d notifications lost to targets gone", gone)
	}
	// The supervisor survived: a new target is served.
	code, out, errs = s.run(t, []string{"sh", "-c", `echo after > "$BTFUSE_MOUNT/after"; cat "$BTFUSE_MOUNT/after" "$BTFUSE_MOUNT/mt/counter"`})
	if want := fmt.Sprintf("after\n%d", mtThreads*mtRounds); code != 0 || out != want {
		t.Errorf("after the threads: exit %d, stdout %q (want %q), stderr %q", code, out, want, errs)
	}
}
