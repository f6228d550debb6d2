package benchsuite

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Row is one line of the table and one group of bars in the plot: a
// workload's per-unit times, or (for the seed's tests) the wall time of its
// whole command.
type Row struct {
	Label string
	Per   string
	Stats map[string]Summary // by mode
	Error string             // set for a failed workload
}

// Rows returns the table's rows in workload order.
func (r *Report) Rows() []Row {
	var rows []Row
	for _, res := range r.Workloads {
		row := Row{Label: res.Name, Per: res.Per, Stats: map[string]Summary{}, Error: res.Error}
		wall := Row{Label: res.Name + " (whole command)", Per: "command", Stats: map[string]Summary{}}
		for _, m := range r.Modes {
			row.Stats[m] = res.Summary(m, false)
			wall.Stats[m] = res.Summary(m, true)
		}
		rows = append(rows, row)
		if res.Wall {
			rows = append(rows, wall)
		}
	}
	return rows
}

// WriteTable writes the report as a Markdown table, padded so that it also
// reads as plain text: per mode the median and, in parentheses, the
// minimum and maximum; then the ratios run/native and fuse/run of the
// medians, and with a fast column fast/native and fuse/fast (the issue's
// goals: the lane against the kernel, and against the FUSE door). A failed workload is marked in the table (with the samples it
// had before it failed, if any) and its error is listed below it.
func (r *Report) WriteTable(w io.Writer) error {
	header := []string{"workload", "per"}
	header = append(header, r.Modes...)
	header = append(header, "run/native", "fuse/run")
	fast := slices.Contains(r.Modes, ModeFast)
	if fast {
		header = append(header, "fast/native", "fuse/fast")
	}
	table := [][]string{header}
	var failures []string
	for _, row := range r.Rows() {
		label := row.Label
		if row.Error != "" {
			label += " FAILED"
			failures = append(failures, fmt.Sprintf("- %s failed: %s", row.Label, oneLine(row.Error)))
		}
		cells := []string{label, row.Per}
		for _, m := range r.Modes {
			cells = append(cells, formatSummary(row.Stats[m]))
		}
		cells = append(cells,
			formatRatio(Ratio(row.Stats[ModeRun], row.Stats[ModeNative])),
			formatRatio(Ratio(row.Stats[ModeFuse], row.Stats[ModeRun])))
		if fast {
			cells = append(cells,
				formatRatio(Ratio(row.Stats[ModeFast], row.Stats[ModeNative])),
				formatRatio(Ratio(row.Stats[ModeFuse], row.Stats[ModeFast])))
		}
		table = append(table, cells)
	}
	widths := make([]int, len(header))
	for _, cells := range table {
		for i, c := range cells {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for i, cells := range table {
		writeCells(&b, cells, widths)
		if i == 0 {
			sep := make([]string, len(cells))
			for j := range sep {
				sep[j] = strings.Repeat("-", widths[j])
			}
			writeCells(&b, sep, widths)
		}
	}
	if len(failures) > 0 {
		b.WriteString("\n" + strings.Join(failures, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteLegend says what each workload of the report did, with its size.
func (r *Report) WriteLegend(w io.Writer) error {
	var b strings.Builder
	for _, res := range r.Workloads {
		// The descriptions write the size as a word N.
		what := strings.ReplaceAll(res.What, " N ", " "+strconv.Itoa(res.N)+" ")
		fmt.Fprintf(&b, "- %s: %s\n", res.Name, what)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCells(b *strings.Builder, cells []string, widths []int) {
	b.WriteString("|")
	for i, c := range cells {
		b.WriteString(" " + c + strings.Repeat(" ", widths[i]-len([]rune(c))) + " |")
	}
	b.WriteString("\n")
}

// formatSummary is "median (min-max)", or "-" without samples.
func formatSummary(s Summary) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%s-%s)", FormatNS(s.Median), FormatNS(s.Min), FormatNS(s.Max))
}

func formatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// FormatNS formats nanoseconds with a unit that keeps three or four
// significant digits: 812 ns, 3.41 us, 12.7 ms, 1.52 s.
func FormatNS(ns float64) string {
	units := []struct {
		name string
		size float64
	}{{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}}
	for _, u := range units {
		if ns >= u.size || u.size == 1 {
			v := ns / u.size
			switch {
			case v >= 100:
				return fmt.Sprintf("%.0f %s", v, u.name)
			case v >= 10:
				return fmt.Sprintf("%.1f %s", v, u.name)
			default:
				return fmt.Sprintf("%.2f %s", v, u.name)
			}
		}
	}
	return ""
}

// oneLine folds a multi-line error (a command's stderr) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
