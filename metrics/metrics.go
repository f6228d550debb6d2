// Package metrics exports a daemon's shared-memory counters (package
// shmring) as Prometheus metrics: every scrape reads the segment, so the
// numbers are the ones 'btfuse status' shows and the doors pay nothing
// extra. Names start with btfuse_; operation metrics carry the labels op,
// door and outcome, and every metric the constant label mount.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/btfuse/btfuse/shmring"
)

// Source reads the counters; *shmring.Writer and *shmring.Segment fit
// through a method value.
type Source func() (shmring.Snapshot, error)

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src Source

	ops, latency                    *prometheus.Desc
	ringEvents, ringOver, ringDrops *prometheus.Desc
	inodes, inodesMax               *prometheus.Desc
	bytes, bytesMax, supervised     *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector of src for the daemon serving mount.
func NewCollector(src Source, mount string) *Collector {
	cl := prometheus.Labels{"mount": mount}
	opLabels := []string{"op", "door", "outcome"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("btfuse_"+name, help, labels, cl)
	}
	return &Collector{
		src:        src,
		ops:        d("operations_total", "Operations answered, by op, door (fuse or run) and outcome (served, passthrough, expected: an errno that answers what was asked, error, injected).", opLabels),
		latency:    d("operation_duration_seconds", "Time to answer an operation, from request to reply.", opLabels),
		ringEvents: d("ring_events_total", "Events offered to the shared-memory ring.", nil),
		ringOver:   d("ring_overwritten_total", "Ring events overwritten by newer ones.", nil),
		ringDrops:  d("ring_dropped_total", "Ring events the producer gave up rather than wait.", nil),
		inodes:     d("inodes_used", "Inodes in use.", nil),
		inodesMax:  d("inodes_capacity", "Inode limit.", nil),
		bytes:      d("bytes_used", "Bytes of file data in use.", nil),
		bytesMax:   d("bytes_capacity", "File data limit in bytes.", nil),
		supervised: d("supervised_trees", "Process trees supervised through 'btfuse run'.", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ops, c.latency, c.ringEvents, c.ringOver, c.ringDrops,
		c.inodes, c.inodesMax, c.bytes, c.bytesMax, c.supervised} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap, err := c.src()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.ops, err)
		return
	}
	for i := range snap.Cells {
		cell := &snap.Cells[i]
		lv := []string{cell.Op.String(), cell.Door.String(), cell.Outcome.String()}
		ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, float64(cell.Count), lv...)
		ch <- prometheus.MustNewConstHistogram(c.latency, cell.Count, cell.Sum.Seconds(), shmring.Cumulative(&cell.Buckets), lv...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.ringEvents, snap.Ring.Written)
	counter(c.ringOver, snap.Ring.Overwritten)
	counter(c.ringDrops, snap.Ring.Dropped)
	gauge(c.inodes, snap.Inodes)
	gauge(c.inodesMax, snap.InodesMax)
	gauge(c.bytes, snap.Bytes)
	gauge(c.bytesMax, snap.BytesMax)
	gauge(c.supervised, snap.Supervised)
}

// Server serves /metrics.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen starts serving c's metrics (and the Go runtime's) at addr
// (host:port) under /metrics.
func Listen(addr string, c *Collector, log *slog.Logger) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w: pick a free host:port for --metrics", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address served (with the real port when addr had port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving, waiting a little for scrapes in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
