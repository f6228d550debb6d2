package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/internal/testutil"
)

// TestMain lets the test binary be btfuse itself: run with
// BTFUSE_TEST_MAIN=1 it executes main with its arguments. The end-to-end
// tests start it that way, so they test the real command line, signals and
// exit codes (with the race detector when the tests have it).
func TestMain(m *testing.M) {
	if os.Getenv("BTFUSE_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	if os.Getenv("BTFUSE_TEST_DIE_WITH_STORE") == "1" {
		dieWithStore()
	}
	if op := os.Getenv("BTFUSE_TEST_LOOP"); op != "" {
		os.Exit(loopHelper(op))
	}
	os.Exit(withFastLibrary(m))
}

// withFastLibrary builds the fast lane's library for the tests' 'btfuse
// run' (BTFUSE_FAST_LIBRARY), so that every run test runs with the lane on
// unless it says --no-fast-lane, and then runs m.
func withFastLibrary(m *testing.M) int {
	dir, err := os.MkdirTemp("", "btfuse-fastlib-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Targets of other users must be able to load it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lib := filepath.Join(dir, preloadlib.LibName)
	if err := preloadlib.Build(lib); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("BTFUSE_FAST_LIBRARY", lib)
	return m.Run()
}

// btfuse prepares the btfuse binary with args, its registry in runtime.
func btfuse(runtime string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=1", "BTFUSE_RUNTIME_DIR="+runtime)
	if _, ok := os.LookupEnv("GORACE"); !ok {
		// The race detector sleeps a second at every exit by default;
		// tests that start many commands need not wait for it.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	return cmd
}

// runBtfuse runs btfuse to completion and returns its exit code and
// output.
func runBtfuse(tb testing.TB, runtime string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	return runToEnd(tb, btfuse(runtime, args...))
}

// runToEnd runs cmd (a minute at most) and returns its exit code and output.
func runToEnd(tb testing.TB, cmd *exec.Cmd) (code int, stdout, stderr string) {
	tb.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	stop()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		tb.Fatalf("%v: %v", cmd.Args, err)
	}
	return code, o.String(), e.String()
}

// daemonProc is a "btfuse mount" running as a child process.
type daemonProc struct {
	cmd    *exec.Cmd
	dir    string
	out    *testutil.SyncBuffer
	errw   *testutil.SyncBuffer
	served chan struct{} // closed when the "serving" line appeared
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result, once exited
}

// startDaemon starts "btfuse mount dir" and waits until it serves. At
// cleanup, pass or fail, it kills the daemon if it still runs and detaches
// whatever is mounted at dir, without following a symbolic link there.
func startDaemon(tb testing.TB, runtime, dir string, extra ...string) *daemonProc {
	tb.Helper()
	d := &daemonProc{
		cmd:    btfuse(runtime, append([]string{"mount", dir}, extra...)...),
		dir:    dir,
		out:    new(testutil.SyncBuffer),
		errw:   new(testutil.SyncBuffer),
		served: make(chan struct{}),
		exited: make(chan struct{}),
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = pw, d.errw
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			d.out.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "serving ") {
				once.Do(func() { close(d.served) })
			}
		}
		pr.Close()
	}()
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
		unix.Unmount(dir, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	})
	select {
	case <-d.served:
	case <-d.exited:
		tb.Fatalf("btfuse mount exited early (%v); stderr:\n%s", d.err, d.errw)
	case <-time.After(30 * time.Second):
		tb.Fatalf("btfuse mount did not start serving; stderr:\n%s", d.errw)
	}
	return d
}

// wait waits for the daemon to exit and returns its exit code.
func (d *daemonProc) wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("btfuse mount did not exit; stderr:\n%s", d.errw)
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		tb.Fatalf("wait: %v", d.err)
	}
	return 0
}

func (d *daemonProc) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("signal %v: %v", sig, err)
	}
}

// mountDirs makes a mount point and a registry directory for one test.
func mountDirs(tb testing.TB) (dir, runtime string) {
	tb.Helper()
	base := tb.TempDir()
	dir = filepath.Join(base, "mnt")
	runtime = filepath.Join(base, "run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir, runtime
}

// isMounted reports whether dir is a mount point in this namespace.
func isMounted(tb testing.TB, dir string) bool {
	tb.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}
