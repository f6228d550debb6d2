// Package daemon wires a btfuse daemon together and runs its lifecycle: it
// checks the mount point (clearing a stale FUSE mount a killed daemon left),
// creates the filesystem, mounts it through FUSE, registers the daemon and
// its control socket, and on SIGINT/SIGTERM, an "umount" request or an
// external unmount takes it all down again in the reverse order. It holds no
// filesystem semantics.
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
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
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
	// Stdout gets the "serving" line, Stderr diagnostics and the log;
	// nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
	// ShmDir is where the shared-memory segment goes; "" means /dev/shm.
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

	mount, err := control.Canonical(cfg.Dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", cfg.Dir, err)
	}
	reg, err := openRegistry(cfg.RuntimeDir)
	if err != nil {
		return err
	}
	claim, err := reg.Claim(mount)
	if err != nil {
		return err
	}
	defer claim.Release()
	if err := checkMountpoint(mount, stderr); err != nil {
		return err
	}

	fs, err := fsimpl.New(fsimpl.Options{SizeBytes: cfg.SizeBytes, Inodes: cfg.Inodes})
	if err != nil {
		return fmt.Errorf("create filesystem: %w", err)
	}
	mir := openMirror(cfg.ShmDir, mount, log)
	defer mir.close()
	if cfg.MetricsAddr != "" {
		ms, err := mir.serveMetrics(cfg.MetricsAddr, mount, log)
		if err != nil {
			fs.Close()
			return err
		}
		defer ms.Close()
		fmt.Fprintf(stdout, "btfuse: metrics at http://%s/metrics\n", ms.Addr())
	}
	srv, err := fuseserve.Mount(mount, fs, fuseserve.Options{AllowOther: cfg.AllowOther, Debug: cfg.Debug, Observer: mir.observer()})
	if err != nil {
		fs.Close()
		return err
	}
	gone := make(chan struct{})
	go func() {
		srv.Wait()
		close(gone)
	}()

	d := &daemon{stop: make(chan struct{}), stopped: make(chan struct{})}
	ctl, err := control.Listen(claim.SocketPath(), log)
	if err != nil {
		srv.Unmount()
		<-gone
		fs.Close()
		return err
	}
	info := control.Info{
		PID:      os.Getpid(),
		UID:      os.Geteuid(),
		Start:    time.Now(),
		Version:  Version,
		Backing:  fs.BackingDescription(),
		DataMode: srv.Mode(),
		Shm:      mir.path(),
	}
	ctl.Handle(control.OpInfo, func(context.Context, *control.Request) (control.Reply, error) {
		return control.Reply{Body: info}, nil
	})
	ctl.Handle(control.OpUmount, d.handleUmount)
	sup, err := supervisor.New(fs, supervisor.Options{Mount: mount, Inval: srv, Log: log, Observer: mir.observer()})
	if err != nil {
		ctl.Close()
		srv.Unmount()
		<-gone
		fs.Close()
		return err
	}
	ctl.Handle(supervisor.OpSupervise, superviseHandler(sup))
	ctl.Start()
	if err := claim.Publish(info); err != nil {
		ctl.Close()
		srv.Unmount()
		<-gone
		fs.Close()
		return err
	}
	mir.start(fs, sup)
	fmt.Fprintf(stdout, "btfuse: serving %s (backing: %s; FUSE data: %s); stop with Ctrl-C or 'btfuse umount %s'\n",
		mount, info.Backing, info.DataMode, mount)

	select {
	case <-ctx.Done():
		log.Debug("stopping", "reason", "signal")
	case <-d.stop:
		log.Debug("stopping", "reason", "umount request")
	case <-gone:
		fmt.Fprintf(stderr, "btfuse: %s was unmounted from outside; exiting\n", mount)
	}
	// Supervised processes still running get errors from now on.
	sup.Close()
	mir.close() // before fs.Close: its gauges read fs
	d.result, d.err = unmount(srv, mount, gone, stderr)
	close(d.stopped) // lets the umount handler answer
	if waitGone(gone, 0) {
		if err := fs.Close(); err != nil {
			log.Warn("closing the filesystem", "err", err)
		}
	}
	ctl.Close()
	if err := claim.Release(); err != nil {
		log.Warn("removing the registry entry", "err", err)
	}
	if d.err != nil {
		return d.err
	}
	fmt.Fprintf(stdout, "btfuse: %s\n", d.result)
	return nil
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
		var args supervisor.SuperviseArgs
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
	stopOnce sync.Once
	stop     chan struct{} // closed by the first umount request
	stopped  chan struct{} // closed when the unmount is done; result and err are set
	result   string
	err      error
}

func (d *daemon) handleUmount(ctx context.Context, _ *control.Request) (control.Reply, error) {
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

// unmount takes the mount down and says how it went. A busy mount is
// detached lazily: it disappears from the tree at once and its connection
// ends when the last file under it is closed, or when this process exits.
func unmount(srv *fuseserve.Server, mount string, gone <-chan struct{}, stderr io.Writer) (string, error) {
	if waitGone(gone, 0) {
		return "unmounted " + mount, nil
	}
	err := srv.Unmount()
	if err == nil {
		return "unmounted " + mount, nil
	}
	if derr := lazyUnmount(mount); derr != nil && !waitGone(gone, 0) {
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
	if m != nil && m.isFUSE() {
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
