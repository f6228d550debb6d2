package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/daemon"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/mountinfo"
	"github.com/btfuse/btfuse/shmring"
)

// NewCmdStatus returns "btfuse status [DIR]".
func NewCmdStatus() *cobra.Command {
	var (
		asJSON, watch bool
		every         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status [DIR]",
		Short: "Show the running daemons, their usage and per-operation counters",
		Long: `Show every btfuse daemon (or the one serving DIR): mount, pid, uptime, whether
it answers (alive, not answering, dead), inodes and bytes used, supervised
process trees, and for each operation how many were served, passed through to
the kernel, answered with an expected errno (ENOENT to a lookup, ENODATA or
ENOTSUP to a getxattr, EEXIST to an exclusive create, ...), failed, or
injected, with p50 and p99 latency. It also lists stale mounts: fuse.btfuse
mounts whose daemon is gone (or hangs), which 'btfuse umount DIR' (or
--force) clears.

Counters come from the daemons' shared memory; status asks each daemon only
whether it answers. With DIR, the exit status is 1 unless a daemon that
answers serves DIR. --watch redraws the screen in place on a terminal, and
appends one report after another elsewhere.`,
		Example: `  btfuse status
  btfuse status /mnt/mem --json
  btfuse status --watch`,
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			tty := isTerminal(out)
			show := func() ([]daemonStatus, error) {
				reps, err := collectStatus(cmd.Context(), dirArg(args))
				if err != nil {
					return nil, err
				}
				if asJSON {
					return reps, writeStatusJSON(out, reps)
				}
				writeStatusTable(out, reps, len(args) == 0)
				return reps, nil
			}
			if !watch {
				reps, err := show()
				if err != nil || len(args) == 0 {
					return err
				}
				return servedOrNot(args[0], reps)
			}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				switch {
				case asJSON:
				case tty:
					fmt.Fprint(out, "\033[H\033[2J") // home, clear screen
				default:
					// No escape codes into a pipe or a file: one report
					// after another, each under a line of its own.
					fmt.Fprintf(out, "--- btfuse status at %s\n", time.Now().Format("15:04:05"))
				}
				if _, err := show(); err != nil {
					return err
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-t.C:
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print a JSON list of daemons")
	f.BoolVarP(&watch, "watch", "w", false, "refresh until interrupted")
	f.DurationVar(&every, "interval", time.Second, "refresh interval of --watch")
	return cmd
}

// Daemon states in status.
const (
	stateAlive        = "alive"         // answers on its control socket
	stateNotAnswering = "not answering" // holds its entry, does not answer
	stateDead         = "dead"          // its pid is gone
	stateStale        = "stale"         // a btfuse mount no daemon serves
)

// staleProbe bounds the statfs that tells a stale mount.
const staleProbe = time.Second

// servedOrNot is the verdict of 'btfuse status DIR': nil only when a
// daemon that answers serves DIR.
func servedOrNot(dir string, reps []daemonStatus) error {
	if len(reps) == 0 {
		return fmt.Errorf("no btfuse daemon serves %s", dir)
	}
	for _, d := range reps {
		if d.State != stateAlive {
			return fmt.Errorf("%s is %s", d.Mount, d.State)
		}
	}
	return nil
}

// daemonStatus is one daemon in 'btfuse status --json'.
type daemonStatus struct {
	// Mount is where the daemon's mount is now; MountedAs the path it was
	// mounted on, when a directory above it has been renamed since.
	Mount     string `json:"mount"`
	MountedAs string `json:"mounted_as,omitempty"`
	PID       int    `json:"pid"`
	// State is alive, "not answering", dead, or stale (a mount without
	// a daemon; PID 0).
	State      string              `json:"state"`
	Version    string              `json:"version,omitempty"`
	Flags      string              `json:"flags,omitempty"` // "nosuid,nodev" unless -o suid or dev
	UptimeSec  float64             `json:"uptime_s"`
	Inodes     uint64              `json:"inodes"`
	InodesMax  uint64              `json:"inodes_max"`
	Bytes      uint64              `json:"bytes"`
	BytesMax   uint64              `json:"bytes_max"`
	Supervised uint64              `json:"supervised"`
	Ops        map[string]opStatus `json:"ops"`
	Ring       *shmring.RingStats  `json:"ring"`
	Segment    string              `json:"segment,omitempty"`
	// Error says why some of the above is missing (the daemon's control
	// socket or segment could not be read).
	Error string `json:"error,omitempty"`
}

type opStatus struct {
	Door        string `json:"door"`
	Served      uint64 `json:"served"`
	Passthrough uint64 `json:"passthrough"`
	// Expected counts errnos that answer what was asked (ENOENT to a
	// lookup, ...; event.Classify); Errors the failures.
	Expected uint64  `json:"expected"`
	Errors   uint64  `json:"errors"`
	Injected uint64  `json:"injected"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
}

// collectStatus reads the status of every daemon, or of the one serving
// dir, and the stale mounts (all, or the one at dir).
func collectStatus(ctx context.Context, dir string) ([]daemonStatus, error) {
	reg, err := control.OpenDefault()
	if err != nil {
		return nil, err
	}
	shmring.Sweep("")
	entries, err := reg.Select(ctx, dir)
	if err != nil && !errors.Is(err, control.ErrNotRunning) {
		return nil, err
	}
	reps := make([]daemonStatus, 0, len(entries))
	served := map[uint64]bool{}
	for _, e := range entries {
		reps = append(reps, statusOf(e))
		served[e.Dev] = e.Dev != 0
	}
	// The mounts of registered daemons are not probed; with DIR, only
	// the mount there is.
	at := ""
	if dir != "" {
		if at, err = control.Canonical(dir); err != nil {
			return nil, err
		}
	}
	stale, err := daemon.StaleMounts(staleProbe, func(m *mountinfo.Mount) bool {
		return !served[m.Dev] && (at == "" || m.Point == at)
	})
	if err != nil {
		return nil, err
	}
	for _, m := range stale {
		why := "its daemon is gone (the FUSE connection has no server)"
		if m.Hung {
			why = "its daemon does not answer (stopped or hung, or of another registry); release it with 'btfuse umount --force " + m.Point + "'"
		} else {
			why += "; clear it with 'btfuse umount " + m.Point + "'"
		}
		reps = append(reps, daemonStatus{Mount: m.Point, State: stateStale, Ops: map[string]opStatus{}, Error: why})
	}
	return reps, nil
}

// statusOf reads one daemon's segment; what fails is said in Error.
func statusOf(e control.Entry) (d daemonStatus) {
	d = daemonStatus{Mount: e.Mount, PID: e.PID, State: stateAlive, Version: e.Version, Flags: e.Flags, Segment: e.Shm, Ops: map[string]opStatus{}}
	switch {
	case e.Dead:
		d.State = stateDead
	case e.Err != nil:
		d.State = stateNotAnswering
	}
	if !e.Start.IsZero() {
		d.UptimeSec = time.Since(e.Start).Round(time.Second).Seconds()
	}
	var errs []string
	switch e.Point {
	case e.Mount:
	case "":
		errs = append(errs, "its mount is not in this mount namespace (unmounted, or out of sight)")
	default:
		d.Mount, d.MountedAs = e.Point, e.Mount
	}
	if e.Err != nil {
		errs = append(errs, "control socket: "+e.Err.Error())
	}
	defer func() { d.Error = strings.Join(errs, "; ") }()
	if e.Shm == "" {
		errs = append(errs, "the daemon has no shared memory segment (no /dev/shm?)")
		return d
	}
	seg, err := shmring.Open(e.Shm)
	if err != nil {
		errs = append(errs, "shared memory: "+err.Error())
		return d
	}
	defer seg.Close()
	if seg.Info().PID != e.PID {
		errs = append(errs, fmt.Sprintf("shared memory segment %s belongs to pid %d, not to the daemon", e.Shm, seg.Info().PID))
		return d
	}
	snap, err := seg.Snapshot()
	if err != nil {
		errs = append(errs, "shared memory: "+err.Error())
		return d
	}
	d.Inodes, d.InodesMax, d.Bytes, d.BytesMax = snap.Inodes, snap.InodesMax, snap.Bytes, snap.BytesMax
	d.Supervised = snap.Supervised
	d.Ring = &snap.Ring
	for _, o := range snap.ByOp() {
		// An op the fast lane answered is counted apart from the same
		// syscall over seccomp (door run).
		name := o.Op.String()
		if o.Door == event.DoorFast {
			name += "@fast"
		}
		d.Ops[name] = opStatus{
			Door:        o.Door.String(),
			Served:      o.Counts[event.Served],
			Passthrough: o.Counts[event.Passthrough],
			Expected:    o.Counts[event.Expected],
			Errors:      o.Counts[event.Error],
			Injected:    o.Counts[event.Injected],
			P50us:       micros(shmring.Quantile(&o.Latency, 0.50)),
			P99us:       micros(shmring.Quantile(&o.Latency, 0.99)),
		}
	}
	return d
}

func micros(d time.Duration) float64 { return float64(d.Round(100*time.Nanosecond)) / 1e3 }

func writeStatusJSON(w io.Writer, reps []daemonStatus) error {
	if reps == nil {
		reps = []daemonStatus{} // "[]", not "null"
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reps)
}

// writeStatusTable prints reps for people; all says that every daemon was
// asked for (rather than the one of a DIR, whose absence the caller
// reports).
func writeStatusTable(w io.Writer, reps []daemonStatus, all bool) {
	daemons := 0
	for _, d := range reps {
		if d.State != stateStale {
			daemons++
		}
	}
	if daemons == 0 && all {
		fmt.Fprintln(w, "no btfuse daemon is running")
		if len(reps) > 0 {
			fmt.Fprintln(w)
		}
	}
	for i, d := range reps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if d.State == stateStale {
			fmt.Fprintf(w, "%s  stale mount: %s\n", d.Mount, d.Error)
			continue
		}
		fmt.Fprintf(w, "%s  pid %d  %s  up %s", d.Mount, d.PID, d.State, time.Duration(d.UptimeSec)*time.Second)
		if d.MountedAs != "" {
			fmt.Fprintf(w, "  (mounted as %s)", d.MountedAs)
		}
		if d.Flags != "" {
			fmt.Fprintf(w, "  %s", d.Flags)
		}
		fmt.Fprintln(w)
		if d.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", d.Error)
		}
		if d.Ring == nil {
			continue
		}
		fmt.Fprintf(w, "  inodes %d / %d   bytes %s / %s   supervised %d\n",
			d.Inodes, d.InodesMax, humanBytes(d.Bytes), humanBytes(d.BytesMax), d.Supervised)
		fmt.Fprintf(w, "  ring: %d slots, %d events, %d overwritten, %d dropped\n",
			d.Ring.Slots, d.Ring.Written, d.Ring.Overwritten, d.Ring.Dropped)
		if len(d.Ops) == 0 {
			fmt.Fprintln(w, "  no operations yet")
			continue
		}
		names := make([]string, 0, len(d.Ops))
		for n := range d.Ops {
			names = append(names, n)
		}
		sort.Slice(names, func(a, b int) bool {
			oa, ob := d.Ops[names[a]], d.Ops[names[b]]
			if oa.Door != ob.Door {
				return oa.Door < ob.Door
			}
			return names[a] < names[b]
		})
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  OP\tDOOR\tSERVED\tPASSTHROUGH\tEXPECTED\tERRORS\tINJECTED\tP50\tP99\t")
		for _, n := range names {
			o := d.Ops[n]
			// The DOOR column says what the @fast of the JSON key says.
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", strings.TrimSuffix(n, "@fast"), o.Door, o.Served, o.Passthrough, o.Expected, o.Errors, o.Injected,
				fmtMicros(o.P50us), fmtMicros(o.P99us))
		}
		tw.Flush()
	}
}

func fmtMicros(us float64) string {
	return time.Duration(us * 1e3).Round(100 * time.Nanosecond).String()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
