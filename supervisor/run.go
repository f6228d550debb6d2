package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/launcher"
)

// RunConfig configures Run.
type RunConfig struct {
	// Mount is where the filesystem is (or gets) mounted; "" makes a fresh
	// temporary directory and says so on Stderr.
	Mount string
	Argv  []string
	// Stderr gets btfuse's own messages; nil means os.Stderr.
	Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
	// Launch adjusts how the child is started (tests set Self).
	Launch launcher.Options
	// Attached, when set, is told whether Run attached to a daemon.
	Attached *bool
	// Embed, when set, starts the embedded daemon (package daemon's
	// Embed: registered and mirrored like 'btfuse mount'); stop is called
	// after the command exits. Unset, Run mounts a bare filesystem.
	Embed func(mount string, stderr io.Writer) (sup *Supervisor, stop func(), err error)
}

// OpSupervise is the control op by which a daemon takes a listener: the
// request carries the listener fd and a SuperviseArgs body.
const OpSupervise = "supervise"

// SuperviseArgs is the body of an OpSupervise request.
type SuperviseArgs struct {
	Base int `json:"base"`
	Size int `json:"size"`
}

// Run runs cfg.Argv supervised and returns its exit status (128+N when a
// signal killed it). If a daemon serves cfg.Mount, the listener goes to it
// over its control socket; otherwise Run mounts a filesystem there itself
// for the command's lifetime.
func Run(ctx context.Context, cfg RunConfig) (int, error) {
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	if len(cfg.Argv) == 0 {
		return 2, errors.New("no command: usage: btfuse run [--mount DIR] -- CMD [ARGS]")
	}
	var tmp string
	if cfg.Mount == "" {
		d, err := os.MkdirTemp("", "btfuse-run-")
		if err != nil {
			return 1, fmt.Errorf("make a mount directory: %w", err)
		}
		tmp = d
		defer os.Remove(tmp)
		cfg.Mount = d
		fmt.Fprintf(stderr, "btfuse run: filesystem at %s\n", d)
	}
	mount, err := control.Canonical(cfg.Mount)
	if err != nil {
		return 1, fmt.Errorf("mount point %s: %w", cfg.Mount, err)
	}
	if cfg.Launch.Env == nil {
		cfg.Launch.Env = os.Environ()
	}
	cfg.Launch.Env = append(cfg.Launch.Env, launcher.MountEnv+"="+mount)
	// The launcher child loads (about 0.7 ms here) while the daemon is
	// looked for, or the filesystem mounted; it waits for its filter.
	cfg.Launch.Range, cfg.Launch.Build = ReservedRange, BuildFilter
	t, err := launcher.Spawn(cfg.Argv, cfg.Launch)
	if err != nil {
		return 1, err
	}
	if tmp == "" {
		if client, err := dialDaemon(ctx, cfg.RuntimeDir, mount); err == nil {
			if cfg.Attached != nil {
				*cfg.Attached = true
			}
			defer client.Close()
			return runAttached(ctx, client, t)
		} else if !errors.Is(err, control.ErrNotRunning) {
			t.Abort()
			return 1, err
		}
	}
	return runEmbedded(mount, cfg, stderr, t)
}

func dialDaemon(ctx context.Context, dir, mount string) (*control.Client, error) {
	if dir == "" {
		d, err := control.DefaultDir()
		if err != nil {
			return nil, control.ErrNotRunning
		}
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, control.ErrNotRunning
	}
	reg, err := control.Open(dir)
	if err != nil {
		return nil, control.ErrNotRunning
	}
	e, err := reg.Lookup(ctx, mount)
	if err != nil {
		return nil, err
	}
	if e.Err != nil {
		return nil, fmt.Errorf("the daemon serving %s does not answer: %w", mount, e.Err)
	}
	return control.Dial(ctx, e.Socket)
}

func runAttached(ctx context.Context, client *control.Client, t *launcher.Target) (int, error) {
	if err := t.Install(); err != nil {
		if errors.Is(err, launcher.ErrChildExited) {
			return t.Wait(), nil
		}
		return 1, err
	}
	args := SuperviseArgs{Base: t.Base, Size: t.Size}
	if _, err := client.Call(ctx, OpSupervise, args, []*os.File{t.Listener}, nil); err != nil {
		t.Abort()
		return 1, fmt.Errorf("hand the command to the daemon: %w", err)
	}
	t.Listener.Close()
	t.Listener = nil
	return t.GoAndWait()
}

// runEmbedded serves t from a filesystem of its own, mounted at mount for
// the command's lifetime.
func runEmbedded(mount string, cfg RunConfig, stderr io.Writer, t *launcher.Target) (int, error) {
	if cfg.Embed != nil {
		return runEmbedDaemon(mount, cfg, stderr, t)
	}
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		t.Abort()
		return 1, fmt.Errorf("create filesystem: %w", err)
	}
	defer fs.Close()
	srv, err := fuseserve.Mount(mount, fs, fuseserve.Options{AllowOther: os.Geteuid() == 0})
	if err != nil {
		t.Abort()
		return 1, fmt.Errorf("mount %s: %w (no FUSE: btfuse run needs /dev/fuse, or fusermount3 when not root)", mount, err)
	}
	defer func() {
		if err := srv.Unmount(); err != nil {
			fmt.Fprintf(stderr, "btfuse run: %v; detaching\n", err)
			unix.Unmount(mount, unix.MNT_DETACH)
		}
		srv.Wait()
	}()
	sup, err := New(fs, Options{Mount: mount, Inval: srv, Log: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		t.Abort()
		return 1, err
	}
	defer sup.Close()
	return serveCommand(sup, t)
}

// serveCommand installs t's filter, has sup serve its listener, lets it
// exec and returns its exit status.
func serveCommand(sup *Supervisor, t *launcher.Target) (int, error) {
	if err := t.Install(); err != nil {
		if errors.Is(err, launcher.ErrChildExited) {
			return t.Wait(), nil
		}
		return 1, err
	}
	lfd, err := unix.FcntlInt(t.Listener.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Abort()
		return 1, err
	}
	t.Listener.Close()
	t.Listener = nil
	go sup.Serve(lfd, t.Base, t.Size)
	return t.GoAndWait()
}
