package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/launcher"
	"github.com/btfuse/btfuse/supervisor"
)

// CommandConfig configures RunCommand.
type CommandConfig struct {
	// Mount is where the filesystem is (or gets) mounted; "" makes a fresh
	// temporary directory and says so on Stderr.
	Mount string
	Argv  []string
	// Stderr gets btfuse's own messages; nil means os.Stderr.
	Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
	// AllowOther mounts an embedded filesystem with allow_other (a
	// daemon already serving Mount keeps its own choice).
	AllowOther bool
}

// RunCommand is 'btfuse run': it runs cfg.Argv supervised and returns its
// exit status (128+N when signal N killed it). If a daemon serves
// cfg.Mount, the listener goes to it over its control socket (OpSupervise);
// otherwise RunCommand starts an embedded daemon there for the command's
// lifetime. The command learns the mount from launcher.MountEnv.
func RunCommand(ctx context.Context, cfg CommandConfig) (int, error) {
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
	// The launcher child loads while the daemon is looked for, or the
	// filesystem mounted; it waits for its filter. It is started before
	// an embedded daemon raises this process's RLIMIT_NOFILE (raiseNofile),
	// so that the command gets the limits btfuse run was given.
	t, err := launcher.Spawn(cfg.Argv, launcher.Options{
		Env:   append(append(os.Environ(), launcher.MountEnv+"="+mount), fastLaneEnv(cfg.RuntimeDir, mount)...),
		Range: supervisor.ReservedRange,
		Build: supervisor.BuildFilter,
	})
	if err != nil {
		return 1, err
	}
	if tmp == "" {
		if client, err := dialDaemon(ctx, cfg.RuntimeDir, mount); err == nil {
			defer client.Close()
			return runAttached(ctx, client, t)
		} else if !errors.Is(err, control.ErrNotRunning) {
			t.Abort()
			return 1, err
		}
		if err := checkEmbedDir(mount); err != nil {
			t.Abort()
			return 1, err
		}
	}
	sup, stop, err := embed(Config{Dir: mount, Stderr: stderr, AllowOther: cfg.AllowOther, RuntimeDir: cfg.RuntimeDir})
	if err != nil {
		t.Abort()
		return 1, err
	}
	defer stop()
	return serveCommand(sup, t)
}

// dialDaemon connects to the daemon whose mount is at mount now. A registry that does
// not exist is not created: nothing can be registered there.
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
	// By identity: a daemon registered for mount whose mount has moved
	// away would serve the command as if its mount were at mount.
	e, err := reg.Resolve(ctx, mount)
	if err != nil {
		return nil, err
	}
	if e.Err != nil {
		return nil, fmt.Errorf("the daemon serving %s does not answer: %w", mount, e.Err)
	}
	return control.Dial(ctx, e.Socket)
}

// runAttached hands t's listener to the daemon behind client, lets the
// command exec and returns its exit status.
func runAttached(ctx context.Context, client *control.Client, t *launcher.Target) (int, error) {
	if err := t.Install(); err != nil {
		if errors.Is(err, launcher.ErrChildExited) {
			return t.Wait(), nil
		}
		return 1, err
	}
	args := control.SuperviseArgs{Base: t.Base, Size: t.Size}
	if _, err := client.Call(ctx, control.OpSupervise, args, []*os.File{t.Listener}, nil); err != nil {
		t.Abort()
		return 1, fmt.Errorf("hand the command to the daemon: %w", err)
	}
	t.Listener.Close()
	t.Listener = nil
	return t.GoAndWait()
}

// serveCommand installs t's filter, has sup serve its listener, lets it
// exec and returns its exit status.
func serveCommand(sup *supervisor.Supervisor, t *launcher.Target) (int, error) {
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
