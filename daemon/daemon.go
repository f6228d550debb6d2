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
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fastlane"
	"github.com/btfuse/btfuse/faults"
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
	// Debug logs every FUSE request and debug messages; Verbose logs
	// Info messages on the terminal too (see newLogger).
	Debug, Verbose bool
	// LogFile, when set, receives the structured log (appended to,
	// created 0600); LogStderr sends it to Stderr in the same format
	// (stderr is the journal). Otherwise the log is shown on Stderr as
	// plain messages.
	LogFile   string
	LogStderr bool
	// Ready, when set, is told once the mount and the control socket
	// answer, or why the daemon could not start, and closed (a daemon
	// started by 'btfuse mount -d'; see Background).
	Ready *os.File
	// Dev and SUID mount without nodev and nosuid (root only; see
	// ParseMountOptions); ReadOnly and NoExec mount ro and noexec.
	Dev, SUID, ReadOnly, NoExec bool
	// RootUID, RootGID and RootMode set the owner, group and permission
	// bits of the root directory (-o uid=, gid=, mode=); nil keeps the
	// defaults (the daemon's euid and egid, 0755).
	RootUID, RootGID, RootMode *uint32
	// FsName is the source column of the mount table; "" means btfuse.
	FsName string
	// Sloppy ignores unknown mount options (mount -s).
	Sloppy bool
	// Stdout gets the "serving" line, Stderr diagnostics and the log;
	// nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
	// ShmDir is where named shared-memory segments and file stores
	// (fsimpl.SweepShmBacking) of dead daemons are swept; "" means
	// /dev/shm. (The daemon's own segment has no name.)
	ShmDir string
	// MetricsAddr, when set, is the host:port where Prometheus metrics
	// are served under /metrics.
	MetricsAddr string
	// Inject are fault rules (package faults) for every lane; InjectSeed
	// seeds those without seed= (nil: a random seed).
	Inject     []string
	InjectSeed *uint64
}

// lazyWait is how long a shutdown waits for a busy mount that it detached
// lazily to be released before it leaves it to the kernel.
const lazyWait = 5 * time.Second

// Run serves cfg.Dir until ctx ends, an "umount" request arrives on the
// control socket or the mount is unmounted from outside; then it cleans up
// and returns nil. Setup failures are returned with a hint for the user.
func Run(ctx context.Context, cfg Config) error {
	stdout, stderr := writers(cfg.Stdout, cfg.Stderr)
	log, closeLog, err := cfg.logger(stderr)
	if err != nil {
		cfg.notReady(err)
		return err
	}
	defer closeLog()
	slog.SetDefault(log) // fuseserve logs through the default logger

	in, err := start(cfg, log, stdout, false)
	if err != nil {
		cfg.notReady(err)
		return err
	}
	cfg.ready(in)
	fmt.Fprintf(stdout, "btfuse: serving %s (%s; backing: %s; FUSE data: %s); stop with Ctrl-C or 'btfuse umount %s'\n",
		in.mount, in.info.Flags, in.info.Backing, in.info.DataMode, in.mount)

	// The 'btfuse umount' that asked reports the result itself, often on
	// the same terminal: the daemon then says nothing more.
	requested := false
	select {
	case <-ctx.Done():
		log.Debug("stopping", "reason", "signal")
	case <-in.d.stop:
		log.Info("stopping", "reason", "umount request")
		requested = true
	case <-in.gone:
		fmt.Fprintf(stderr, "btfuse: %s was unmounted from outside; exiting\n", in.mount)
	}
	result, err := in.shutdown(ctx, stderr)
	if err != nil {
		return err
	}
	if requested {
		log.Info(result)
	} else {
		fmt.Fprintf(stdout, "btfuse: %s\n", result)
	}
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
	// faults are the daemon's fault rules, every lane's.
	faults *faults.Set
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
	if in.faults, err = newFaultSet(&cfg); err != nil {
		return nil, err
	}
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
	sweepStores(cfg.ShmDir, stderr)
	if in.fs, err = fsimpl.New(fsimpl.Options{SizeBytes: cfg.SizeBytes, Inodes: cfg.Inodes,
		RootUID: cfg.RootUID, RootGID: cfg.RootGID, RootMode: cfg.RootMode}); err != nil {
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
	sopts := fuseserve.Options{AllowOther: cfg.AllowOther, Debug: cfg.Debug, Observer: in.mir.observer(),
		Dev: cfg.Dev, SUID: cfg.SUID, ReadOnly: cfg.ReadOnly, NoExec: cfg.NoExec, FsName: cfg.FsName, Faults: in.faults}
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
	if in.sup, err = supervisor.New(in.fs, supervisor.Options{Mount: in.mount, Log: log, Observer: in.mir.observer(), Faults: in.faults}); err != nil {
		return nil, err
	}
	undo = append(undo, func() { in.sup.Close() })
	undo = append(undo, in.startFastLane())
	in.ctl.Handle(control.OpSupervise, superviseHandler(in.sup, in.faults))
	in.ctl.Handle(control.OpInject, injectHandler(in.faults))
	in.ctl.Start()
	if err := in.claim.Publish(in.info); err != nil {
		return nil, err
	}
	in.mir.start(in.fs, in.sup)
	return in, nil
}

// superviseHandler takes the listener of a 'btfuse run' started elsewhere
// (and the notification board it publishes received ids on, when one
// comes with it) and serves it until its processes exit or the daemon
// stops. The connection is held open meanwhile (control.Reply.Hold): it
// ends with a word when serving ends, and without one if this process
// dies, which is how 'btfuse run' learns that it must take over.
func superviseHandler(sup *supervisor.Supervisor, set *faults.Set) control.Handler {
	return func(_ context.Context, req *control.Request) (control.Reply, error) {
		defer func() {
			for _, f := range req.Files {
				f.Close()
			}
		}()
		if len(req.Files) != 1 && len(req.Files) != 2 {
			return control.Reply{}, fmt.Errorf("supervise: want a listener and a board, got %d descriptors", len(req.Files))
		}
		var args control.SuperviseArgs
		if err := json.Unmarshal(req.Body, &args); err != nil {
			return control.Reply{}, fmt.Errorf("supervise: %w", err)
		}
		g, err := addGroup(set, args.Inject, args.InjectSeed)
		if err != nil {
			return control.Reply{}, err
		}
		var board *supervisor.Board
		if len(req.Files) == 2 {
			bfd, err := unix.FcntlInt(req.Files[1].Fd(), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				set.DelGroup(g)
				return control.Reply{}, fmt.Errorf("supervise: %w", err)
			}
			bf := os.NewFile(uintptr(bfd), "btfuse-board")
			if board, err = supervisor.OpenBoard(bf); err != nil {
				bf.Close()
				set.DelGroup(g)
				return control.Reply{}, fmt.Errorf("supervise: %w", err)
			}
		}
		fd, err := unix.FcntlInt(req.Files[0].Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			board.Close()
			set.DelGroup(g)
			return control.Reply{}, fmt.Errorf("supervise: %w", err)
		}
		hold := make(chan string, 1)
		go func() {
			err := sup.ServeWith(fd, supervisor.ServeOptions{Base: args.Base, Size: args.Size, Group: g, Data: args.InjectData, Board: board})
			board.Close()
			switch {
			case sup.Closed():
				hold <- "the daemon is shutting down"
			case err != nil:
				hold <- "serving failed: " + err.Error()
			default:
				hold <- "the command's processes have exited"
			}
		}()
		return control.Reply{Hold: hold}, nil
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

func openRegistry(dir string) (*control.Registry, error) {
	dir, err := registryDir(dir)
	if err != nil {
		return nil, err
	}
	return control.Open(dir)
}

// registryDir is dir, or control.DefaultDir when dir is "".
func registryDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return control.DefaultDir()
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
			return fmt.Errorf("mount point %s is a %s mount that does not answer: %s", dir, m.FSType, releaseHung(dir, m))
		}
	}
	st, err := statMountpoint(dir)
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("mount point %s does not exist: create it with 'mkdir -p %s'", dir, dir)
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("mount point %s does not answer (a hung mount?): %s", dir, releaseHung(dir, m))
	case err != nil:
		return fmt.Errorf("mount point %s: %w", dir, err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("mount point %s is not a directory: mount on a directory", dir)
	case m != nil && m.FSType == "fuse.btfuse":
		return fmt.Errorf("%s is already mounted (%s from %s): unmount it first with 'btfuse umount %s'", dir, m.FSType, m.Source, dir)
	case m != nil:
		// Not ours: btfuse umount would refuse it, so do not suggest it.
		return fmt.Errorf("%s is already mounted (%s from %s): mount btfuse elsewhere, or unmount it first with 'umount %s'", dir, m.FSType, m.Source, dir)
	}
	return nil
}

// releaseHung says how to release the hung mount m at dir: btfuse aborts
// only its own mounts; any other is the kernel's umount -l.
func releaseHung(dir string, m *mountinfo.Mount) string {
	if m != nil && m.FSType == "fuse.btfuse" {
		return fmt.Sprintf("release it with 'btfuse umount --force %s' (its contents are lost)", dir)
	}
	return fmt.Sprintf("release it with 'umount -l %s' (as root)", dir)
}
