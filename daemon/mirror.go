package daemon

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
	"github.com/btfuse/btfuse/metrics"
	"github.com/btfuse/btfuse/shmring"
	"github.com/btfuse/btfuse/supervisor"
)

// gaugeEvery is how often the mirror's gauges (inodes, bytes, supervised
// process trees) are refreshed.
const gaugeEvery = time.Second

// mirror is the daemon's shared-memory segment (see package shmring) and
// the goroutine that keeps its gauges fresh. A daemon without one (no
// /dev/shm) serves all the same.
type mirror struct {
	w        *shmring.Writer // nil: no segment
	obs      event.Observer  // w behind a TID -> TGID cache
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// openMirror creates the segment of the daemon serving mount, sealed
// (shmring.CreateSealed): a segment with a name in /dev/shm could be taken
// first, or truncated under the daemon's mapping, by other local users. It
// removes the named segments that dead daemons of older versions left in
// dir ("": /dev/shm). A failure is logged, not fatal.
func openMirror(dir, mount string, log *slog.Logger) *mirror {
	m := &mirror{stop: make(chan struct{})}
	for _, p := range shmring.Sweep(dir) {
		log.Info("removed the shared memory segment of a dead daemon", "path", p)
	}
	w, err := shmring.CreateSealed(mount, 0)
	if err != nil {
		log.Warn("no shared memory segment: btfuse status and trace will not see this daemon", "err", err)
		return m
	}
	m.w = w
	m.obs = &tgidObserver{next: w, cache: procfs.NewTgidCache()}
	return m
}

// observer is what the doors report to (nil without a segment). It fills
// in the TGID that both doors lack: they know only the calling thread.
func (m *mirror) observer() event.Observer {
	if m.w == nil {
		return nil
	}
	return m.obs
}

// path is the segment's file, "" without one.
func (m *mirror) path() string {
	if m.w == nil {
		return ""
	}
	return m.w.Path()
}

// start refreshes the gauges from fs and sup until close.
func (m *mirror) start(fs *fsimpl.FS, sup *supervisor.Supervisor) {
	if m.w == nil {
		return
	}
	m.gauges(fs, sup)
	m.wg.Go(func() {
		t := time.NewTicker(gaugeEvery)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.gauges(fs, sup)
			}
		}
	})
}

func (m *mirror) gauges(fs *fsimpl.FS, sup *supervisor.Supervisor) {
	st := fs.StatFs()
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	m.w.SetGauges(st.Files-st.Ffree, st.Files, (st.Blocks-st.Bfree)*bs, st.Blocks*bs)
	m.w.SetSupervised(sup.Listeners())
}

// serveMetrics serves the segment's counters as Prometheus metrics at addr.
func (m *mirror) serveMetrics(addr, mount string, log *slog.Logger) (*metrics.Server, error) {
	if m.w == nil {
		return nil, errors.New("metrics: no shared memory segment to read the counters from: check that /dev/shm is a writable tmpfs")
	}
	w := m.w
	return metrics.Listen(addr, metrics.NewCollector(func() (shmring.Snapshot, error) { return w.Snapshot(), nil }, mount), log)
}

// close stops the gauges and removes the segment; a door still answering
// may go on reporting into it harmlessly. Later calls do nothing.
func (m *mirror) close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.wg.Wait()
		if m.w != nil {
			m.w.Close()
		}
	})
}
