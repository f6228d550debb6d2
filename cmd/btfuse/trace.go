package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/procfs"
	"github.com/btfuse/btfuse/shmring"
)

// tracePoll is how often trace looks at the rings. Reading never blocks
// the daemon; this only bounds how late a line is printed.
const tracePoll = 20 * time.Millisecond

// NewCmdTrace returns "btfuse trace [DIR]".
func NewCmdTrace() *cobra.Command {
	var asJSON, backlog bool
	cmd := &cobra.Command{
		Use:   "trace [DIR]",
		Short: "Print the operations of a daemon as they happen, like strace",
		Long: `Follow the event ring of the daemon serving DIR (or of every running daemon)
and print one line per operation: time, door (fuse or run), tgid/tid, op,
path, result and latency. The ring is read from shared memory: tracing never
slows or blocks the daemon, and events overwritten before trace could read
them are counted as missed. Stops on Ctrl-C or when the daemon exits.

--json prints one object per event: time, mount, seq, door, tgid, tid, op,
path, ino, outcome (served, passthrough, expected: an errno that answers what
was asked, such as ENOENT to a lookup; error; injected), errno and
latency_us. A path whose bytes are not valid UTF-8 shows them as \xNN in
"path", and exactly, base64-encoded, in "path_b64"; "truncated" says the ring
kept only the path's tail.`,
		Example: `  btfuse trace /mnt/mem
  btfuse trace --json | jq 'select(.outcome == "error")'`,
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), dirArg(args), asJSON, backlog, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per event")
	cmd.Flags().BoolVar(&backlog, "backlog", false, "first print the events still in the ring")
	return cmd
}

// traceEvent is one line of 'btfuse trace --json'.
type traceEvent struct {
	Time  time.Time `json:"time"`
	Mount string    `json:"mount"`
	Seq   uint64    `json:"seq"`
	Door  string    `json:"door"`
	Tgid  int32     `json:"tgid"`
	Tid   int32     `json:"tid"`
	Op    string    `json:"op"`
	// Path is valid UTF-8: a path whose bytes are not has them as \xNN
	// escapes here, and all of them, exactly, in PathB64 (base64).
	// Truncated: the ring kept only the path's tail ("…" starts Path).
	Path      string  `json:"path"`
	PathB64   string  `json:"path_b64,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
	Ino       uint64  `json:"ino,omitempty"`
	Outcome   string  `json:"outcome"`
	Errno     string  `json:"errno"` // "" on success
	LatencyUs float64 `json:"latency_us"`
	// Injected events: the rule that fired, what it did and its value.
	Rule       uint16 `json:"rule,omitempty"`
	Fault      string `json:"fault,omitempty"`
	FaultValue int64  `json:"fault_value,omitempty"`
}

type traced struct {
	mount string
	seg   *shmring.Segment
	cur   *shmring.Cursor
	seen  uint64 // Missed already reported
}

func runTrace(ctx context.Context, dir string, asJSON, backlog bool, stdout, stderr io.Writer) error {
	reg, err := control.OpenDefault()
	if err != nil {
		return err
	}
	entries, err := reg.Select(ctx, dir)
	if errors.Is(err, control.ErrNotRunning) {
		return fmt.Errorf("no btfuse daemon serves %s: start one with 'btfuse mount %s'", dir, dir)
	}
	if err != nil {
		return err
	}
	var ts []*traced
	defer func() {
		for _, t := range ts {
			t.seg.Close()
		}
	}()
	for _, e := range entries {
		if e.Shm == "" {
			fmt.Fprintf(stderr, "btfuse trace: %s: the daemon has no shared memory segment\n", e.Mount)
			continue
		}
		seg, err := shmring.Open(e.Shm)
		if err != nil {
			fmt.Fprintf(stderr, "btfuse trace: %s: %v\n", e.Mount, err)
			continue
		}
		ts = append(ts, &traced{mount: e.Mount, seg: seg, cur: seg.Cursor(backlog)})
		fmt.Fprintf(stderr, "btfuse trace: following %s (pid %d); stop with Ctrl-C\n", e.Mount, e.PID)
	}
	if len(ts) == 0 {
		if len(entries) == 0 {
			return errors.New("no btfuse daemon is running: start one with 'btfuse mount DIR'")
		}
		return errors.New("no daemon's shared memory could be read")
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	tgids := procfs.NewTgidCache()
	var total, missed uint64
	defer func() { fmt.Fprintf(stderr, "btfuse trace: %d events, %d missed\n", total, missed) }()
	enc := json.NewEncoder(out)
	buf := make([]shmring.Record, 0, 1024)
	tick := time.NewTicker(tracePoll)
	defer tick.Stop()
	for {
		live := 0
		for _, t := range ts {
			if t.seg == nil {
				continue
			}
			recs, err := t.cur.Poll(buf[:0])
			if err != nil {
				fmt.Fprintf(stderr, "btfuse trace: %s: %v\n", t.mount, err)
			}
			for _, r := range recs {
				if r.Tgid == 0 {
					r.Tgid = tgids.Lookup(r.Tid)
				}
				if asJSON {
					enc.Encode(toTraceEvent(t.mount, &r))
				} else {
					writeTraceLine(out, t.mount, len(ts) > 1, &r)
				}
			}
			total += uint64(len(recs))
			if t.cur.Missed > t.seen {
				fmt.Fprintf(stderr, "btfuse trace: %s: missed %d events (the ring was overwritten before trace read them)\n", t.mount, t.cur.Missed-t.seen)
				missed += t.cur.Missed - t.seen
				t.seen = t.cur.Missed
			}
			if err != nil || (len(recs) == 0 && !t.seg.Alive()) {
				fmt.Fprintf(stderr, "btfuse trace: the daemon of %s is gone\n", t.mount)
				t.seg.Close()
				t.seg = nil
				continue
			}
			live++
		}
		out.Flush()
		if live == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func toTraceEvent(mount string, r *shmring.Record) traceEvent {
	ev := traceEvent{
		Time: r.Time, Mount: mount, Seq: r.Seq, Door: r.Door.String(), Tgid: r.Tgid, Tid: r.Tid,
		Op: r.Op.String(), Path: tracePath(r), Truncated: r.Truncated, Ino: r.Ino, Outcome: r.Outcome.String(),
		Errno: errnoName(r.Errno), LatencyUs: micros(r.Latency),
		Rule: r.Rule, Fault: r.Fault.String(), FaultValue: r.FaultValue,
	}
	// encoding/json would replace each byte that is not UTF-8 with U+FFFD,
	// and a name is any bytes but '/' and NUL.
	if !utf8.ValidString(r.Path) {
		ev.PathB64 = base64.StdEncoding.EncodeToString([]byte(r.Path))
		ev.Path = escapeInvalid(ev.Path)
	}
	return ev
}

// escapeInvalid writes each byte of s that is not part of valid UTF-8 as
// \xNN.
func escapeInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, "\\x%02x", s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

func tracePath(r *shmring.Record) string {
	if r.Truncated {
		return "…" + r.Path
	}
	return r.Path
}

func writeTraceLine(w io.Writer, mount string, withMount bool, r *shmring.Record) {
	var b strings.Builder
	b.WriteString(r.Time.Format("15:04:05.000000"))
	if withMount {
		b.WriteString(" " + mount)
	}
	fmt.Fprintf(&b, " %-4s %d/%d %s", r.Door, r.Tgid, r.Tid, r.Op)
	if p := tracePath(r); p != "" {
		b.WriteString(" " + strconv.Quote(p))
	} else if r.Ino != 0 {
		fmt.Fprintf(&b, " ino=%d", r.Ino)
	}
	switch {
	case r.Errno != 0:
		b.WriteString(" = -1 " + errnoName(r.Errno))
	case r.Outcome == event.Injected && (r.Fault == event.FaultRetval || r.Fault == event.FaultShort || r.Fault == event.FaultENOSPC):
		fmt.Fprintf(&b, " = %d", r.FaultValue)
	case r.Outcome == event.Passthrough:
		b.WriteString(" -> kernel")
	case r.Outcome == event.Injected:
	default:
		b.WriteString(" = 0")
	}
	if r.Outcome == event.Injected {
		fmt.Fprintf(&b, " [injected by rule %d: %s", r.Rule, r.Fault)
		switch r.Fault {
		case event.FaultCorrupt:
			fmt.Fprintf(&b, ", %d bytes flipped", r.FaultValue)
		case event.FaultShort, event.FaultENOSPC:
			fmt.Fprintf(&b, ", %d bytes moved", r.FaultValue)
		case event.FaultSignal:
			b.WriteString(" " + unix.SignalName(unix.Signal(r.FaultValue)))
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, " <%s>\n", r.Latency.Round(100*time.Nanosecond))
	io.WriteString(w, b.String())
}

func errnoName(e unix.Errno) string {
	if e == 0 {
		return ""
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}
