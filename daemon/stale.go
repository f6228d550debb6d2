package daemon

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/mountinfo"
)

// StaleMount is a btfuse mount that no daemon serves.
type StaleMount struct {
	Point  string
	Source string
	Dev    uint64
	// Hung: the mount's server does not answer (a daemon stopped or
	// stuck, perhaps of another registry); otherwise the connection has
	// no server at all (ENOTCONN: its daemon died).
	Hung bool
}

// StaleMounts lists the fuse.btfuse mounts of this mount namespace whose
// FUSE connection has no server (statfs of the root answers ENOTCONN) or
// whose server does not answer within timeout, of those that probe
// accepts (the caller leaves out the mounts of daemons it knows). Each
// probe of a hung mount leaves a goroutine blocked until the mount is
// released, which the kernel does not let it cancel.
//
// This is the one place that decides what "stale" is, for status; it
// may be replaced by the lifecycle's own list.
func StaleMounts(timeout time.Duration, probe func(*mountinfo.Mount) bool) ([]StaleMount, error) {
	ms, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var out []StaleMount
	for i := range ms {
		m := &ms[i]
		if m.FSType != "fuse.btfuse" || !probe(m) {
			continue
		}
		err := probeOnce(m.Dev, m.Point, timeout)
		switch {
		case errors.Is(err, errNoAnswer):
			out = append(out, StaleMount{Point: m.Point, Source: m.Source, Dev: m.Dev, Hung: true})
		case isDeadConn(err):
			out = append(out, StaleMount{Point: m.Point, Source: m.Source, Dev: m.Dev})
		}
	}
	return out, nil
}

// probing holds the devices whose probe has not returned: a hung mount
// is probed once per process (status --watch would otherwise leave one
// more blocked thread behind at every refresh).
var probing sync.Map

// probeOnce is probeFUSE with a timeout of the caller's, and at most one
// probe of a mount at a time.
func probeOnce(dev uint64, dir string, timeout time.Duration) error {
	if _, busy := probing.LoadOrStore(dev, true); busy {
		return errNoAnswer
	}
	ch := make(chan error, 1)
	go func() {
		defer probing.Delete(dev)
		var sfs unix.Statfs_t
		ch <- unix.Statfs(dir, &sfs)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-t.C:
		return errNoAnswer
	}
}
