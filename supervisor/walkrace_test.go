package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// raceFiles is how many names the renamers and the stale helper share.
const raceFiles = 8

// raceFor is how long the renamers and the stale helper run.
const raceFor = 2 * time.Second

// renamerHelper replaces the files mount/r/f0..f7 by renaming fresh ones
// over them, which frees the replaced inodes, for raceFor.
func renamerHelper(mount string) []string {
	tag := os.Getenv("BTFUSE_RENAMER")
	end := time.Now().Add(raceFor)
	for i := 0; time.Now().Before(end); i++ {
		tmp := fmt.Sprintf("%s/r/t%s-%d", mount, tag, i%raceFiles)
		if err := os.WriteFile(tmp, []byte("x"), 0o666); err != nil {
			return []string{err.Error()}
		}
		if err := os.Rename(tmp, fmt.Sprintf("%s/r/f%d", mount, i%raceFiles)); err != nil {
			return []string{err.Error()}
		}
	}
	return nil
}

// staleHelper opens, links, chmods and truncates mount/r/f0..f7 for raceFor
// while renamers replace them, and reports every ESTALE: the kernel never
// gives one on tmpfs or through FUSE.
func staleHelper(mount string) []string {
	stale := map[string]int{}
	calls := 0
	note := func(op string, err error) {
		calls++
		if err == unix.ESTALE {
			stale[op]++
		}
	}
	end := time.Now().Add(raceFor)
	for i := 0; time.Now().Before(end); i++ {
		name := fmt.Sprintf("%s/r/f%d", mount, i%raceFiles)
		fd, err := unix.Open(name, unix.O_RDWR, 0)
		note("open", err)
		if err == nil {
			unix.Close(fd)
		}
		link := fmt.Sprintf("%s/r/h%d", mount, os.Getpid())
		note("link", unix.Link(name, link))
		unix.Unlink(link)
		note("chmod", unix.Chmod(name, 0o666))
		note("truncate", unix.Truncate(name, 0))
	}
	if len(stale) > 0 {
		return []string{fmt.Sprintf("ESTALE in %v of %d calls", stale, calls)}
	}
	return nil
}

// TestRunNoStaleUnderRenames: a supervised process working on names that
// other processes keep renaming over, one through each door, never sees
// ESTALE. It did when the supervisor walked the path and then acted on
// the inode it found, in two steps.
func TestRunNoStaleUnderRenames(t *testing.T) {
	s := startSupervised(t)
	if err := os.Mkdir(filepath.Join(s.Dir, "r"), 0o777); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < raceFiles; i++ {
		if err := os.WriteFile(filepath.Join(s.Dir, "r", fmt.Sprintf("f%d", i)), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	fail := make(chan string, 3)
	wg.Add(2)
	go func() { // through FUSE
		defer wg.Done()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "BTFUSE_TEST_HELPER=renamer", "BTFUSE_RENAMER=fuse", MountEnv+"="+s.mount)
		if out, err := cmd.CombinedOutput(); err != nil {
			fail <- fmt.Sprintf("renamer through FUSE: %v\n%s", err, out)
		}
	}()
	go func() { // under run
		defer wg.Done()
		if code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=renamer", "BTFUSE_RENAMER=run"); code != 0 {
			fail <- fmt.Sprintf("renamer under run: exit %d\n%s%s", code, out, errs)
		}
	}()
	code, out, errs := s.run(t, []string{os.Args[0]}, "BTFUSE_TEST_HELPER=stale")
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Error(f)
	}
	if code != 0 {
		t.Errorf("stale helper: exit %d\n%s%s", code, out, errs)
	}
}

// TestLeavesNoInodes: names made and removed through either door leave no
// inode behind. mkdir, mknod, symlink and link under run took a FUSE lookup
// reference that nobody gave back, so every one of them leaked.
func TestLeavesNoInodes(t *testing.T) {
	s := startSupervised(t)
	script := strings.ReplaceAll(strings.Join([]string{
		"for i in $(seq 30); do",
		"mkdir M/d && rmdir M/d &&",
		"ln -s x M/s && rm M/s &&",
		"mkfifo M/p && ln M/p M/q && rm M/p M/q &&",
		"echo x > M/f && mv M/f M/g && rm M/g || exit 1;",
		"done",
	}, " "), "M/", s.mount+"/")
	used := func() uint64 {
		st := s.FS.StatFs()
		return st.Files - st.Ffree
	}
	t.Run("run", func(t *testing.T) {
		code, out, errs := s.run(t, []string{"/bin/sh", "-c", script})
		if code != 0 {
			t.Fatalf("script: exit %d\n%s%s", code, out, errs)
		}
		if n := used(); n != 1 {
			t.Errorf("%d inodes used after the loop under run, want 1 (the root)", n)
		}
	})
	t.Run("fuse", func(t *testing.T) {
		if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
		// The kernel gives its lookup references back (FORGET) as it
		// drops the removed entries, which need not be done when rm
		// returns.
		deadline := time.Now().Add(10 * time.Second)
		for used() != 1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := used(); n != 1 {
			t.Errorf("%d inodes used after the loop through FUSE, want 1 (the root)", n)
		}
	})
}
