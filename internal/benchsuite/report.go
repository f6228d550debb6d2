package benchsuite

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Report is the outcome of a bench: every sample, and what it ran on. Its
// JSON form is what --json writes.
type Report struct {
	Started   time.Time         `json:"started"`
	Elapsed   float64           `json:"elapsed_s"`
	Quick     bool              `json:"quick"`
	Rounds    int               `json:"rounds"`
	Modes     []string          `json:"modes"`
	Machine   Machine           `json:"machine"`
	Binary    string            `json:"binary"`
	Version   string            `json:"version,omitempty"`
	Programs  map[string]string `json:"programs"`
	Workloads []*Result         `json:"workloads"`
	// Load is /proc/loadavg's 1-minute average when the bench started and
	// when it ended: on a shared machine, the noise it ran in.
	Load [2]float64 `json:"loadavg_1m"`
	// Interrupted is set when the bench stopped before its last round.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Result is one workload: its samples in every mode, or why it failed.
type Result struct {
	Name  string `json:"name"`
	Group string `json:"group"`
	What  string `json:"what"`
	Per   string `json:"per"`
	N     int    `json:"n"`
	Wall  bool   `json:"wall_row,omitempty"`
	// Error is the first failure; the workload's remaining samples were
	// skipped, and it is reported failed.
	Error   string   `json:"error,omitempty"`
	Samples []Sample `json:"samples"`
}

// Sample is one run of a workload in one mode.
type Sample struct {
	Round int    `json:"round"`
	Mode  string `json:"mode"`
	// NS is the time of one Per (an operation, a find, a GiB...), from
	// the clock inside the command.
	NS float64 `json:"ns"`
	// Count is how many Per the timed loop did.
	Count int `json:"count"`
	// WallNS is the wall time of the whole command as the bench saw it:
	// process start-up (and that of 'btfuse run') and preparation included.
	WallNS int64 `json:"wall_ns"`
}

// Summary returns the summary of r's per-unit times in mode, or of its
// whole-command wall times when wall is set.
func (r *Result) Summary(mode string, wall bool) Summary {
	var vals []float64
	for _, s := range r.Samples {
		if s.Mode != mode {
			continue
		}
		if wall {
			vals = append(vals, float64(s.WallNS))
		} else {
			vals = append(vals, s.NS)
		}
	}
	return Summarize(vals)
}

// Machine describes where a bench ran.
type Machine struct {
	Kernel   string  `json:"kernel"`
	CPU      string  `json:"cpu"`
	CPUs     int     `json:"cpus"`
	MemGiB   float64 `json:"mem_gib"`
	Hostname string  `json:"hostname"`
}

// ThisMachine describes the machine the bench runs on.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemGiB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	return m
}

// loadAvg returns the 1-minute load average, 0 if unknown.
func loadAvg() float64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return float64(si.Loads[0]) / (1 << unix.SI_LOAD_SHIFT)
}

// String is the one-line description the table and plot carry.
func (m Machine) String() string {
	return fmt.Sprintf("Linux %s, %d CPUs (%s), %.0f GiB RAM", m.Kernel, m.CPUs, m.CPU, m.MemGiB)
}

// WriteJSON writes r to path, indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Failed says which workloads failed (the table lists them and why), as an
// error for the exit status, so that a script running the bench notices;
// nil when none did.
func (r *Report) Failed() error {
	var names []string
	for _, w := range r.Workloads {
		if w.Error != "" {
			names = append(names, w.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d workloads failed (%s); see below the table", len(names), len(r.Workloads), strings.Join(names, ", "))
}
