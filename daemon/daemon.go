// Package daemon wires a btfuse daemon together and runs its lifecycle: it
// checks the mount point (clearing a stale FUSE mount a killed daemon left),
// creates the filesystem, mounts it through FUSE, registers the daemon and
// its control socket, and on SIGINT/SIGTERM, an "umount" request or an
// external unmount takes it all down again in the reverse order. It holds no
// filesystem semantics.
//
// It is also the daemon side of 'btfuse run' (RunCommand): the command's
// listener goes to the daemon already serving its mount, over the control
// socket (control.OpSupervise), or to an embedded daemon started for the
// command's lifetime, registered and mirrored like 'btfuse mount'. This is
// where the launcher, the supervisor, the registry and the FUSE door meet,
// so that none of them needs another.
//
// The order of shutdown matters: unmount (so that no FUSE request is in
// flight), close the filesystem, close the control socket (clients waiting
// for the daemon to go see EOF), and release the registry entry last; the
// flock that marks the entry live is dropped by the kernel even if the
// daemon dies before that.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fastlane"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/metrics"
	"github.com/btfuse/btfuse/supervisor"
	"golang.org/x/sys/unix"
)

// Version is the btfuse version, set at build time with
// -ldflags "-X github.com/btfuse/btfuse/daemon.Version=...".
var Version = "0.1.0-dev"

// Config configures Run.
type Config struct {
	Dir        string // mount point
	SizeBytes  uint64 // 0: fsimpl's default (half of RAM)
	Inodes     uint64 // 0: fsimpl's default
	AllowOther bool
	Debug      bool
	// Dev and SUID mount without nodev and nosuid (root only; see
	// ParseMountOptions).
	Dev, SUID bool
	// Stdout gets the "serving" line, Stderr diagnostics and the log;
	// nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
	// ShmDir is where named shared-memory segments of dead daemons are
	// swept; "" means /dev/shm. (The daemon's own segment has no name.)
	ShmDir string
	// MetricsAddr, when set, is the host:port where Prometheus metrics
	// are served under /metrics.
	MetricsAddr string
}

// lazyWait is how long a shutdown waits for a busy mount that it detached
// lazily to be released before it leaves it to the kernel.
const lazyWait = 5 * time.Second

// Run serves cfg.Dir until ctx ends, an "umount" request arrives on the
// control socket or the mount is unmounted from outside; then it cleans up
// and returns nil. Setup failures are returned with a hint for the user.
func Run(ctx context.Context, cfg Config) error {
	stdout, stderr := writers(cfg.Stdout, cfg.Stderr)
	log := newLogger(stderr, cfg.Debug)
	slog.SetDefault(log) // fuseserve logs through the default logger

	in, err := start(cfg, log, stdout, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "btfuse: serving %s (%s; backing: %s; FUSE data: %s); stop with Ctrl-C or 'btfuse umount %s'\n",
		in.mount, in.info.Flags, in.info.Backing, in.info.DataMode, in.mount)

	select {
	case <-ctx.Done():
		log.Debug("stopping", "reason", "signal")
	case <-in.d.stop:
		log.Debug("stopping", "reason", "umount request")
	case <-in.gone:
		fmt.Fprintf(stderr, "btfuse: %s was unmounted from outside; exiting\n", in.mount)
	}
	result, err := in.shutdown(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "btfuse: %s\n", result)
	return nil
}

// instance is a serving daemon: what Run and embed share.
type instance struct {
	mount string
	log   *slog.Logger
	claim *control.Claim
	fs    *fsimpl.FS
	mir   *mirror
	ms    *metrics.Server // nil without --metrics
	srv   *fuseserve.Server
	gone  chan struct{} // closed when the FUSE server has stopped
	d     *daemon
	ctl   *control.Server
	sup   *supervisor.Supervisor
	fast  *fastlane.Server
	info  control.Info
}

// start brings a daemon up: registry claim, filesystem, shared-memory
// mirror, metrics, FUSE mount, control socket, supervisor, registry entry.
// On failure it undoes what it did. An embedded daemon (the one 'btfuse run'
// starts for its command) refuses umount requests: it goes when its command
// exits.
func start(cfg Config, log *slog.Logger, stdout io.Writer, embedded bool) (_ *instance, err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	in := &instance{log: log}
	raiseNofile()
	if in.mount, err = control.Canonical(cfg.Dir); err != nil {
		return nil, fmt.Errorf("mount point %s: %w", cfg.Dir, err)
	}
	reg, err := openRegistry(cfg.RuntimeDir)
	if err != nil {
		return nil, err
	}
	if in.claim, err = reg.Claim(in.mount); err != nil {
		return nil, err
	}
	undo = append(undo, func() { in.claim.Release() })
	_, stderr := writers(cfg.Stdout, cfg.Stderr)
	if err := checkMountpoint(in.mount, stderr); err != nil {
		return nil, err
	}
	if in.fs, err = fsimpl.New(fsimpl.Options{SizeBytes: cfg.SizeBytes, Inodes: cfg.Inodes}); err != nil {
		return nil, fmt.Errorf("create filesystem: %w", err)
	}
	undo = append(undo, func() { in.fs.Close() })
	in.mir = openMirror(cfg.ShmDir, in.mount, log)
	undo = append(undo, in.mir.close)
	if cfg.MetricsAddr != "" {
		if in.ms, err = in.mir.serveMetrics(cfg.MetricsAddr, in.mount, log); err != nil {
			return nil, err
		}
		undo = append(undo, func() { in.ms.Close() })
		fmt.Fprintf(stdout, "btfuse: metrics at http://%s/metrics\n", in.ms.Addr())
	}
	sopts := fuseserve.Options{AllowOther: cfg.AllowOther, Debug: cfg.Debug, Observer: in.mir.observer(), Dev: cfg.Dev, SUID: cfg.SUID}
	in.srv, err = fuseserve.Mount(in.mount, in.fs, sopts)
	if err != nil {
		return nil, err
	}
	in.gone = make(chan struct{})
	go func() {
		in.srv.Wait()
		close(in.gone)
	}()
	undo = append(undo, func() {
		if in.srv.Unmount() != nil {
			in.srv.Detach()
		}
		waitGone(in.gone, lazyWait)
	})

	in.d = &daemon{stop: make(chan struct{}), stopped: make(chan struct{}), embedded: embedded}
	if in.ctl, err = control.Listen(in.claim.SocketPath(), log); err != nil {
		return nil, err
	}
	undo = append(undo, func() { in.ctl.Close() })
	in.info = control.Info{
		PID:      os.Getpid(),
		UID:      os.Geteuid(),
		Start:    time.Now(),
		Version:  Version,
		Backing:  in.fs.BackingDescription(),
		DataMode: in.srv.Mode(),
		Flags:    fuseserve.MountFlags(sopts),
		Shm:      in.mir.path(),
		MountID:  in.srv.ID().Mnt,
		Dev:      in.srv.ID().Dev,
	}
	info := in.info
	in.ctl.Handle(control.OpInfo, func(context.Context, *control.Request) (control.Reply, error) {
		return control.Reply{Body: info}, nil
	})
	in.ctl.Handle(control.OpUmount, in.d.handleUmount)
	if in.sup, err = supervisor.New(in.fs, supervisor.Options{Mount: in.mount, Log: log, Observer: in.mir.observer()}); err != nil {
		return nil, err
	}
	undo = append(undo, func() { in.sup.Close() })
	undo = append(undo, in.startFastLane())
	in.ctl.Handle(control.OpSupervise, superviseHandler(in.sup))
	in.ctl.Start()
	if err := in.claim.Publish(in.info); err != nil {
		return nil, err
	}
	in.mir.start(in.fs, in.sup)
	return in, nil
}

// shutdown takes the daemon down in order and says how the unmount went.
func (in *instance) shutdown(stderr io.Writer) (string, error) {
	// Supervised processes still running get errors from now on (their
	// fast lane passes to the seccomp lane first).
	in.fast.Close()
	in.sup.Close()
	in.mir.close() // before fs.Close: its gauges read fs
	d := in.d
	d.result, d.err = unmount(in.srv, in.mount, in.gone, stderr)
	close(d.stopped) // lets the umount handler answer
	if waitGone(in.gone, 0) {
		if err := in.fs.Close(); err != nil {
			in.log.Warn("closing the filesystem", "err", err)
		}
	}
	in.ctl.Close()
	if in.ms != nil {
		in.ms.Close()
	}
	if err := in.claim.Release(); err != nil {
		in.log.Warn("removing the registry entry", "err", err)
	}
	return d.result, d.err
}

// superviseHandler takes the listener of a 'btfuse run' started elsewhere
// and serves it until its processes exit or the daemon stops.
func superviseHandler(sup *supervisor.Supervisor) control.Handler {
	return func(_ context.Context, req *control.Request) (control.Reply, error) {
		defer func() {
			for _, f := range req.Files {
				f.Close()
			}
		}()
		if len(req.Files) != 1 {
			return control.Reply{}, fmt.Errorf("supervise: want one listener, got %d descriptors", len(req.Files))
		}
		var args control.SuperviseArgs
		if err := json.Unmarshal(req.Body, &args); err != nil {
			return control.Reply{}, fmt.Errorf("supervise: %w", err)
		}
		fd, err := unix.FcntlInt(req.Files[0].Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return control.Reply{}, fmt.Errorf("supervise: %w", err)
		}
		go sup.Serve(fd, args.Base, args.Size)
		return control.Reply{}, nil
	}
}

// daemon is the state the control handlers share with Run.
type daemon struct {
	embedded bool // belongs to a 'btfuse run': refuses umount requests
	stopOnce sync.Once
	stop     chan struct{} // closed by the first umount request
	stopped  chan struct{} // closed when the unmount is done; result and err are set
	result   string
	err      error
}

func (d *daemon) handleUmount(ctx context.Context, _ *control.Request) (control.Reply, error) {
	if d.embedded {
		return control.Reply{}, fmt.Errorf("this filesystem belongs to 'btfuse run' (pid %d): it is unmounted when its command exits", os.Getpid())
	}
	d.stopOnce.Do(func() { close(d.stop) })
	select {
	case <-d.stopped:
	case <-ctx.Done():
		select {
		case <-d.stopped: // both were ready
		default:
			return control.Reply{}, errors.New("daemon is shutting down")
		}
	}
	if d.err != nil {
		return control.Reply{}, d.err
	}
	return control.Reply{Body: d.result}, nil
}

// unmount takes the mount down and says how it went. The mount is found
// by its identity wherever it is now (a directory above it may have been
// renamed, and its old path replaced); mount is only the name it was
// registered by, for messages. A busy mount is detached lazily: it
// disappears from the tree at once and its connection ends when the last
// file under it is closed, or when this process exits.
func unmount(srv *fuseserve.Server, mount string, gone <-chan struct{}, stderr io.Writer) (string, error) {
	if waitGone(gone, 0) {
		return "unmounted " + mount, nil
	}
	if point, err := srv.Point(); err == nil && point != mount {
		mount = fmt.Sprintf("%s (mounted as %s)", point, mount)
	}
	err := srv.Unmount()
	switch {
	case err == nil:
		// Through fusermount3 the unmount returns before the serving
		// loop has seen the end of the connection: give it a moment, or
		// shutdown skips fs.Close and a /dev/shm backing directory
		// (non-root) stays behind with the user's data in it.
		waitGone(gone, lazyWait)
		return "unmounted " + mount, nil
	case errors.Is(err, mountinfo.ErrNotMounted):
		// Unmounted from outside meanwhile, or left only in other mount
		// namespaces, whose copies end with this process's connection.
		if waitGone(gone, lazyWait) {
			return "unmounted " + mount, nil
		}
		return "the mount of " + mount + " is no longer in this mount namespace", nil
	}
	if derr := srv.Detach(); derr != nil && !waitGone(gone, 0) {
		return "could not unmount " + mount, fmt.Errorf("%w; lazy unmount failed too: %v", err, derr)
	}
	if waitGone(gone, lazyWait) {
		return "unmounted " + mount + " (it was busy: detached lazily)", nil
	}
	fmt.Fprintf(stderr, "btfuse: %s is busy; detached it lazily: processes still using it get errors once this daemon exits\n", mount)
	return "detached busy mount " + mount, nil
}

// waitGone reports whether gone closes within d.
func waitGone(gone <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-gone:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-gone:
		return true
	case <-t.C:
		return false
	}
}

func writers(out, errw io.Writer) (io.Writer, io.Writer) {
	if out == nil {
		out = os.Stdout
	}
	if errw == nil {
		errw = os.Stderr
	}
	return out, errw
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func openRegistry(dir string) (*control.Registry, error) {
	if dir == "" {
		d, err := control.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return control.Open(dir)
}

// checkMountpoint makes sure dir can be mounted on: it exists, is a
// directory and has nothing mounted on it. A FUSE mount whose daemon died
// is cleared, with a note on stderr.
func checkMountpoint(dir string, stderr io.Writer) error {
	m, err := findMount(dir)
	if err != nil {
		return err
	}
	if m != nil && m.IsFUSE() {
		switch perr := probeFUSE(dir); {
		case isDeadConn(perr):
			if err := clearStale(dir, m, false); err != nil {
				return fmt.Errorf("clear the stale FUSE mount at %s: %w; try 'umount -l %s' as root", dir, err, dir)
			}
			fmt.Fprintf(stderr, "btfuse: cleared a stale FUSE mount at %s (its daemon had died)\n", dir)
			if m, err = findMount(dir); err != nil {
				return err
			}
		case errors.Is(perr, errNoAnswer):
			return fmt.Errorf("mount point %s is a FUSE mount that does not answer: release it with 'btfuse umount %s'", dir, dir)
		}
	}
	st, err := statMountpoint(dir)
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("mount point %s does not exist: create it with 'mkdir -p %s'", dir, dir)
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("mount point %s does not answer (a hung FUSE mount?): release it with 'btfuse umount %s'", dir, dir)
	case err != nil:
		return fmt.Errorf("mount point %s: %w", dir, err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("mount point %s is not a directory: mount on a directory", dir)
	case m != nil:
		return fmt.Errorf("%s is already mounted (%s from %s): unmount it first with 'btfuse umount %s' or 'umount %s'", dir, m.FSType, m.Source, dir, dir)
	}
	return nil
}
