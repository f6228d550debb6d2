package benchsuite

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress reports how far a bench is on stderr: on a terminal a bar
// redrawn in place, elsewhere (a log, CI) one plain line per workload and
// round with its medians so far, which a bar's carriage returns would
// garble.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	done  int
	start time.Time
}

func newProgress(w io.Writer, tty bool, total int) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, tty: tty, total: total, start: time.Now()}
}

// begin says which sample runs now (terminal only).
func (p *progress) begin(round, rounds int, workload, mode string) {
	if !p.tty {
		return
	}
	const width = 30
	filled := width * p.done / max(p.total, 1)
	eta := "?"
	if p.done > 0 {
		left := time.Since(p.start) * time.Duration(p.total-p.done) / time.Duration(p.done)
		eta = FormatElapsed(left)
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %d/%d  round %d/%d  %s %s  (%s left)",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.done, p.total, round, rounds, workload, mode, eta)
}

// end counts a sample as done.
func (p *progress) end() { p.done++ }

// line reports a finished workload-round, or a failure (plain mode only;
// a failure is printed on a terminal too, on a line of its own).
func (p *progress) line(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, "bench: [%d/%d] %s\n", p.done, p.total, fmt.Sprintf(format, args...))
}

// finish clears the bar.
func (p *progress) finish() {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, "bench: %d samples in %s\n", p.done, FormatElapsed(time.Since(p.start)))
}

// FormatElapsed is how the bench states a duration of its own (how long
// it ran, how long it has left), everywhere: to the second, as Go prints
// a duration ("3m33s").
func FormatElapsed(d time.Duration) string {
	return d.Round(time.Second).String()
}
