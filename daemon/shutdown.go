package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/mountinfo"
)

// Shutdown: how a serving daemon is asked to stop (the umount handler),
// and how it takes itself down (see the package comment for the order).

// shutdown takes the daemon down in order and says how the unmount went.
// After a lazy umount request it first detaches the mount, answers, and
// serves the files still open under it until the last is closed (or ctx
// ends: a signal).
func (in *instance) shutdown(ctx context.Context, stderr io.Writer) (string, error) {
	d := in.d
	lazy := d.lazy.Load()
	if lazy {
		d.result, d.err = detach(in.srv, in.mount, in.gone)
		close(d.stopped)
		if d.err == nil {
			select {
			case <-in.gone:
			case <-ctx.Done():
			}
		}
	}
	// Supervised processes still running get errors from now on (their
	// fast lane passes to the seccomp lane first).
	in.fast.Close()
	in.sup.Close()
	in.mir.close() // before fs.Close: its gauges read fs
	if !lazy {
		d.result, d.err = unmount(in.srv, in.mount, in.gone, stderr)
		close(d.stopped) // lets the umount handler answer
	}
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

// daemon is the state the control handlers share with Run.
type daemon struct {
	embedded bool // belongs to a 'btfuse run': refuses umount requests
	stopOnce sync.Once
	lazy     atomic.Bool   // the first umount request asked for a lazy one
	stop     chan struct{} // closed by the first umount request
	stopped  chan struct{} // closed when the unmount is done; result and err are set
	result   string
	err      error
}

func (d *daemon) handleUmount(ctx context.Context, req *control.Request) (control.Reply, error) {
	if d.embedded {
		return control.Reply{}, fmt.Errorf("this filesystem belongs to 'btfuse run' (pid %d): it is unmounted when its command exits", os.Getpid())
	}
	var args control.UmountArgs
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &args); err != nil {
			return control.Reply{}, fmt.Errorf("umount: %w", err)
		}
	}
	d.stopOnce.Do(func() {
		d.lazy.Store(args.Lazy)
		close(d.stop)
	})
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

// detach detaches the mount lazily (MNT_DETACH): it leaves the tree at
// once, and its connection ends when the last file under it is closed.
func detach(srv *fuseserve.Server, mount string, gone <-chan struct{}) (string, error) {
	if waitGone(gone, 0) {
		return "unmounted " + mount, nil
	}
	if err := srv.Detach(); err != nil && !errors.Is(err, mountinfo.ErrNotMounted) {
		return "", fmt.Errorf("detach %s: %w", mount, err)
	}
	// An idle mount goes at once; say so rather than "still in use".
	if waitGone(gone, 200*time.Millisecond) {
		return "unmounted " + mount, nil
	}
	return fmt.Sprintf("detached %s; files still open under it are served until the last is closed, then daemon pid %d exits", mount, os.Getpid()), nil
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
