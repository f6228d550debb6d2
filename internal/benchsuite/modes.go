package benchsuite

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
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fastlane/preloadlib"
)

// The four modes, in the order of the table's columns: a kernel tmpfs, the
// FUSE door, 'btfuse run' on the seccomp lane alone (--no-fast-lane), and
// 'btfuse run' with the fast lane's library.
const (
	ModeNative = "native"
	ModeFuse   = "fuse"
	ModeRun    = "run"
	ModeFast   = "fast"
)

// Modes lists the modes in table order.
var Modes = []string{ModeNative, ModeFuse, ModeRun, ModeFast}

// Env is where the modes live during a bench: a kernel tmpfs for native,
// and one 'btfuse mount' daemon for both fuse and run, so that those two
// measure the same filesystem through its two doors.
type Env struct {
	Exe     string // the btfuse binary whose doors are measured
	FastLib string // the fast lane's library ("": no fast mode)
	base    string // temporary directory holding both mount points
	native  string // tmpfs mount point
	fuse    string // btfuse mount point
	daemon  *exec.Cmd
	exited  chan struct{} // closed when the daemon has been reaped
	stderr  *tailBuffer   // the daemon's stderr, for errors
}

// Dir returns the directory a mode's samples work under.
func (e *Env) Dir(mode string) string {
	if mode == ModeNative {
		return e.native
	}
	return e.fuse
}

// Wrap returns the argv that runs argv in mode: as it is for native and
// fuse, under 'btfuse run --mount' attached to the daemon for run (with
// --no-fast-lane) and fast (the library is named by BTFUSE_FAST_LIBRARY in
// the samples' environment, so that the mode measures it even where the
// binary has none beside it).
func (e *Env) Wrap(mode string, argv []string) []string {
	switch mode {
	case ModeRun:
		return append([]string{e.Exe, "run", "--no-fast-lane", "--mount", e.fuse, "--"}, argv...)
	case ModeFast:
		return append([]string{e.Exe, "run", "--mount", e.fuse, "--"}, argv...)
	}
	return argv
}

// FindFastLib returns the fast lane's library for exe: BTFUSE_FAST_LIBRARY
// when set, else libbtfuse-fast.so beside exe, or "" when there is none.
func FindFastLib(exe string) string {
	lib := os.Getenv("BTFUSE_FAST_LIBRARY")
	if lib == "" {
		lib = filepath.Join(filepath.Dir(exe), preloadlib.LibName)
	}
	if st, err := os.Stat(lib); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	if abs, err := filepath.Abs(lib); err == nil {
		lib = abs
	}
	return lib
}

// StartEnv mounts the tmpfs and starts the daemon with exe. On error,
// whatever was set up is torn down again.
func StartEnv(ctx context.Context, exe string) (_ *Env, err error) {
	base, err := os.MkdirTemp("", "btfuse-bench-")
	if err != nil {
		return nil, fmt.Errorf("make a working directory: %w", err)
	}
	e := &Env{Exe: exe, FastLib: FindFastLib(exe), base: base, native: filepath.Join(base, ModeNative), fuse: filepath.Join(base, ModeFuse)}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	// Samples run as root; other users only need to traverse.
	if err := os.Chmod(base, 0o755); err != nil {
		return e, err
	}
	for _, d := range []string{e.native, e.fuse} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return e, err
		}
	}
	if err := unix.Mount("tmpfs", e.native, "tmpfs", 0, "mode=0755"); err != nil {
		e.native = "" // nothing to unmount
		return e, fmt.Errorf("mount tmpfs on %s: %w (btfuse bench needs root)", filepath.Join(base, ModeNative), err)
	}
	return e, e.startDaemon(ctx)
}

// startDaemon runs 'btfuse mount' on e.fuse and waits until the mount
// appears in /proc/self/mountinfo.
func (e *Env) startDaemon(ctx context.Context) error {
	e.stderr = &tailBuffer{max: 4 << 10}
	cmd := exec.Command(e.Exe, "mount", e.fuse)
	cmd.Stdout, cmd.Stderr = nil, e.stderr
	// Its own process group: a Ctrl-C at the terminal stops the bench,
	// which then unmounts the daemon itself after the sample in flight.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start btfuse mount: %w", err)
	}
	e.daemon, e.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(e.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mounted, err := isFuseMount(e.fuse)
		if err != nil {
			return err
		}
		if mounted {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("btfuse mount %s exited before serving: %s", e.fuse, strings.TrimSpace(e.stderr.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("btfuse mount %s not serving after 30s: %s", e.fuse, strings.TrimSpace(e.stderr.String()))
		}
	}
}

// isFuseMount reports whether dir carries a btfuse FUSE mount.
func isFuseMount(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != dir {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "fuse") {
				return true, nil
			}
		}
	}
	return false, sc.Err()
}

// Close stops the daemon with 'btfuse umount' (killing it and detaching the
// mount if that fails), unmounts the tmpfs and removes the working
// directory. It reports what it could not undo.
func (e *Env) Close() error {
	var errs []error
	if e.daemon != nil {
		select {
		case <-e.exited:
		default:
			out, err := exec.Command(e.Exe, "umount", e.fuse).CombinedOutput()
			if err != nil {
				errs = append(errs, fmt.Errorf("btfuse umount %s: %v: %s", e.fuse, err, bytes.TrimSpace(out)))
			}
			select {
			case <-e.exited:
			case <-time.After(30 * time.Second):
				e.daemon.Process.Kill()
				<-e.exited
				errs = append(errs, fmt.Errorf("btfuse mount %s did not exit after umount; killed it", e.fuse))
			}
		}
		if mounted, _ := isFuseMount(e.fuse); mounted {
			if err := unix.Unmount(e.fuse, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("detach %s: %w", e.fuse, err))
			}
		}
	}
	if e.native != "" {
		if err := unix.Unmount(e.native, 0); err != nil {
			if err := unix.Unmount(e.native, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount tmpfs %s: %w", e.native, err))
			}
		}
	}
	if e.base != "" {
		if err := os.RemoveAll(e.base); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tailBuffer keeps the last max bytes written to it: a child's stderr, for
// the error message when it fails.
type tailBuffer struct {
	max int
	mu  sync.Mutex // guards b
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
