package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fastlane/preloadlib"
	"github.com/btfuse/btfuse/faults"
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
	// Inject are fault rules for the command's processes (checked by the
	// caller with faults.Parse), seeded by InjectSeed where they give
	// none.
	Inject     []string
	InjectSeed uint64
	// NoFastLane runs the command on the seccomp lane alone
	// (--no-fast-lane): no preload library, no trampoline in the filter.
	NoFastLane bool
	// FastLibrary is the fast lane's preload library; "" looks for it
	// next to the btfuse binary (preloadlib.Find).
	FastLibrary string
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
	data, err := dataSyscalls(cfg.Inject)
	if err != nil {
		return 1, err
	}
	opts := launcher.Options{
		Env:   append(append(os.Environ(), launcher.MountEnv+"="+mount), fastLaneEnv(cfg.RuntimeDir, mount)...),
		Range: supervisor.ReservedRange,
		Build: supervisor.BuildFilter,
	}
	switch {
	case len(data) > 0:
		if opts.Build, err = supervisor.FilterFor(data); err != nil {
			return 1, err
		}
	case len(cfg.Inject) > 0, cfg.NoFastLane:
		// Fault rules see only notified calls, and the fast lane makes
		// its calls outside the mount without a notification.
	default:
		if lib, err := fastLibrary(cfg.FastLibrary); err != nil {
			fmt.Fprintf(stderr, "btfuse run: fast lane off (%v): every call goes through the seccomp lane\n", err)
		} else {
			opts.Preload, opts.Build = lib, supervisor.BuildFastFilter
		}
	}
	t, err := launcher.Spawn(cfg.Argv, opts)
	if err != nil {
		return 1, err
	}
	if tmp == "" {
		if client, pid, err := dialDaemon(ctx, cfg.RuntimeDir, mount); err == nil {
			defer client.Close()
			a := attachment{mount: mount, pid: pid, pidfd: -1, stderr: stderr}
			// The process at the other end, while it is certainly alive.
			if cred, err := client.Peer(); err == nil {
				a.pid = int(cred.Pid)
				if fd, err := unix.PidfdOpen(a.pid, 0); err == nil {
					a.pidfd = fd
					defer unix.Close(fd)
				}
			}
			args := control.SuperviseArgs{Inject: cfg.Inject, InjectSeed: cfg.InjectSeed, InjectData: len(data) > 0}
			return runAttached(ctx, client, t, args, a)
		} else if !errors.Is(err, control.ErrNotRunning) {
			t.Abort()
			return 1, err
		}
		if err := checkEmbedDir(mount); err != nil {
			t.Abort()
			return 1, err
		}
	}
	in, stop, err := embed(Config{Dir: mount, Stderr: stderr, AllowOther: cfg.AllowOther, RuntimeDir: cfg.RuntimeDir})
	if err != nil {
		t.Abort()
		return 1, err
	}
	defer stop()
	g, err := addGroup(in.faults, cfg.Inject, cfg.InjectSeed)
	if err != nil {
		t.Abort()
		return 1, err
	}
	return serveCommand(in.sup, t, supervisor.ServeOptions{Group: g, Data: len(data) > 0})
}

// fastLibrary returns the preload library to use: lib when given (it must
// exist), else the one next to the btfuse binary.
func fastLibrary(lib string) (string, error) {
	if lib == "" {
		return preloadlib.Find()
	}
	st, err := os.Stat(lib)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", lib)
	}
	return filepath.Abs(lib)
}

// dialDaemon connects to the daemon whose mount is at mount now and
// returns its pid. A registry that does not exist is not created: nothing
// can be registered there.
func dialDaemon(ctx context.Context, dir, mount string) (*control.Client, int, error) {
	dir, err := registryDir(dir)
	if err != nil {
		return nil, 0, control.ErrNotRunning
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, 0, control.ErrNotRunning
	}
	reg, err := control.Open(dir)
	if err != nil {
		return nil, 0, control.ErrNotRunning
	}
	// By identity: a daemon registered for mount whose mount has moved
	// away would serve the command as if its mount were at mount.
	e, err := reg.Resolve(ctx, mount)
	if err != nil {
		return nil, 0, err
	}
	if e.Err != nil {
		return nil, 0, fmt.Errorf("the daemon serving %s does not answer: %w", mount, e.Err)
	}
	c, err := control.Dial(ctx, e.Socket)
	return c, e.PID, err
}

// serveCommand installs t's filter, has sup serve its listener, lets it
// exec and returns its exit status.
func serveCommand(sup *supervisor.Supervisor, t *launcher.Target, o supervisor.ServeOptions) (int, error) {
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
	o.Base, o.Size = t.Base, t.Size
	go sup.ServeWith(lfd, o)
	return t.GoAndWait()
}

// dataSyscalls lists the data syscalls the rules name, which the filter
// must notify for them.
func dataSyscalls(rules []string) ([]string, error) {
	var m faults.Mask
	for _, text := range rules {
		r, err := faults.Parse(text)
		if err != nil {
			return nil, err
		}
		for _, n := range r.Syscalls.DataSyscalls() {
			m.Add(faults.SyscallID(n))
		}
	}
	return m.Syscalls(), nil
}
