package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/btfuse/btfuse/control"
)

// UmountConfig configures Umount.
type UmountConfig struct {
	Dir string
	// Timeout bounds the whole exchange with the daemon; 0 means 30 s.
	Timeout time.Duration
	// Force aborts the mount's FUSE connection through fusectl and
	// detaches it, without asking its daemon (one that hangs): every
	// request pending or to come fails with ENOTCONN, and the contents are
	// lost.
	Force bool
	// Lazy detaches the mount at once (MNT_DETACH); its daemon serves the
	// files still open under it until the last is closed, then exits.
	Lazy bool
	// Stdout and Stderr: nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
}

// Umount asks the daemon whose mount is at cfg.Dir (control.Resolve) to
// unmount and exit, and waits until it is gone. With no daemon registered, a FUSE mount at cfg.Dir
// whose daemon died (or hangs) is cleared instead; with nothing to do it
// returns an error.
func Umount(ctx context.Context, cfg UmountConfig) error {
	stdout, _ := writers(cfg.Stdout, cfg.Stderr)
	// Whatever happens below: the stores of dead daemons go.
	defer sweepStores("", stdout)
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	mount, err := control.Canonical(cfg.Dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", cfg.Dir, err)
	}
	reg, err := openRegistry(cfg.RuntimeDir)
	if err != nil {
		return err
	}
	if cfg.Force {
		return forceUmount(ctx, reg, mount, stdout)
	}
	e, err := reg.Resolve(ctx, mount)
	var moved *control.MovedError
	if errors.As(err, &moved) && moved.Point == "" {
		// The daemon registered for mount has no mount in this namespace
		// any more: stopping it cannot take anything else away, since it
		// unmounts its own mount by identity, not by this path.
		e, err = reg.Lookup(ctx, mount)
	}
	switch {
	case errors.As(err, &moved):
		return err
	case err == nil && cfg.Lazy:
		msg, err := detachDaemon(ctx, e)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "btfuse: %s\n", msg)
		return nil
	case err == nil:
		msg, err := stopDaemon(ctx, reg, e)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "btfuse: %s (daemon pid %d has exited)\n", msg, e.PID)
		return nil
	case !errors.Is(err, control.ErrNotRunning):
		return fmt.Errorf("read the daemon registry in %s: %w", reg.Dir(), err)
	}

	m, err := findMount(mount)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("no btfuse daemon serves %s and nothing is mounted there", mount)
	}
	if !m.IsFUSE() {
		return fmt.Errorf("%s is a %s mount, not a btfuse one: use 'umount %s'", mount, m.FSType, mount)
	}
	serr := probeFUSE(mount)
	if serr == nil {
		return fmt.Errorf("%s is a live FUSE mount (%s from %s) with no btfuse daemon registered in %s: unmount it with 'umount %s'",
			mount, m.FSType, m.Source, reg.Dir(), mount)
	}
	hung := errors.Is(serr, errNoAnswer)
	if !hung && !isDeadConn(serr) {
		return fmt.Errorf("mount point %s: %w", mount, serr)
	}
	if hung && m.FSType != "fuse.btfuse" {
		// Somebody else's filesystem, maybe only slow: not ours to abort.
		return fmt.Errorf("%s is a %s mount that does not answer, not a btfuse one: release it with 'umount -l %s'", mount, m.FSType, mount)
	}
	// Who holds it, counted while it is mounted: once it is gone its mount
	// id is free, and the next mount anywhere may take it.
	pids, files := HoldersOf(m.ID)
	if err := clearStale(mount, m, hung); err != nil {
		return fmt.Errorf("clear the stale FUSE mount at %s: %w; try 'umount -l %s' as root", mount, err, mount)
	}
	how := "its daemon had died"
	if hung {
		how = "its daemon did not answer; connection aborted"
	}
	fmt.Fprintf(stdout, "btfuse: no daemon was serving %s; cleared the stale FUSE mount there (%s); %s\n", mount, how, releaseNote(pids, files))
	return nil
}

// forceUmount aborts the FUSE connection of the btfuse mount at mount and
// detaches it, whatever its daemon does (Force).
func forceUmount(ctx context.Context, reg *control.Registry, mount string, stdout io.Writer) error {
	m, err := findMount(mount)
	if err != nil {
		return err
	}
	switch {
	case m == nil:
		return fmt.Errorf("nothing is mounted at %s", mount)
	case m.FSType != "fuse.btfuse":
		// Somebody else's filesystem: not ours to abort.
		return fmt.Errorf("%s is a %s mount, not a btfuse one: use 'umount %s' (or 'umount -l %s')", mount, m.FSType, mount, mount)
	}
	if err := clearStale(mount, m, true); err != nil {
		return fmt.Errorf("abort the FUSE mount at %s: %w", mount, err)
	}
	fmt.Fprintf(stdout, "btfuse: aborted the FUSE connection of %s and detached it; its contents are lost\n", mount)
	// Its daemon, if any, finds the connection gone once it runs again
	// and exits; a stopped one stays until continued or killed.
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if e, err := reg.Lookup(lctx, mount); err == nil {
		fmt.Fprintf(stdout, "btfuse: daemon pid %d exits once it runs again (or: kill %d)\n", e.PID, e.PID)
	}
	return nil
}

// detachDaemon asks the daemon of e for a lazy unmount (Lazy): it answers
// once the mount is detached, and exits later.
func detachDaemon(ctx context.Context, e control.Entry) (string, error) {
	c, err := control.Dial(ctx, e.Socket)
	if err != nil {
		return "", fmt.Errorf("daemon pid %d for %s does not answer on %s: %w; abort its mount with 'btfuse umount --force %s'", e.PID, e.Mount, e.Socket, err, e.Mount)
	}
	defer c.Close()
	var msg string
	if _, err := c.Call(ctx, control.OpUmount, control.UmountArgs{Lazy: true}, nil, &msg); err != nil {
		return "", fmt.Errorf("ask daemon pid %d to detach %s: %w", e.PID, e.Mount, err)
	}
	return msg, nil
}

// stopDaemon sends "umount" to the daemon of e and waits until it has
// closed its control socket and released its registry entry.
func stopDaemon(ctx context.Context, reg *control.Registry, e control.Entry) (string, error) {
	c, err := control.Dial(ctx, e.Socket)
	if err != nil {
		return "", fmt.Errorf("daemon pid %d for %s does not answer on %s: %w; abort its mount with 'btfuse umount --force %s' (its contents are lost), or stop it with 'kill %d'",
			e.PID, e.Mount, e.Socket, err, e.Mount, e.PID)
	}
	defer c.Close()
	var msg string
	if _, err := c.Call(ctx, control.OpUmount, nil, nil, &msg); err != nil {
		var re *control.RemoteError
		if errors.As(err, &re) {
			return "", fmt.Errorf("ask daemon pid %d to unmount %s: %w", e.PID, e.Mount, err)
		}
		return "", fmt.Errorf("ask daemon pid %d to unmount %s: %w; if it hangs, abort its mount with 'btfuse umount --force %s' (its contents are lost)", e.PID, e.Mount, err, e.Mount)
	}
	if err := c.WaitClosed(ctx); err != nil {
		return "", fmt.Errorf("daemon pid %d unmounted %s but did not exit: %w", e.PID, e.Mount, err)
	}
	for {
		if _, err := reg.Lookup(ctx, e.Mount); errors.Is(err, control.ErrNotRunning) {
			return msg, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("daemon pid %d unmounted %s but still holds its registry entry", e.PID, e.Mount)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
