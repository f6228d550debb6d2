package benchsuite

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	svg "github.com/ajstarks/svgo"
)

// The plot is drawn with SVGo, which has no package initialisation. The
// first version used gonum.org/v1/plot: its init (font parsing, LaTeX
// symbol tables) cost 2.8-4.3 ms in every btfuse process here
// (GODEBUG=inittrace=1), the launcher child of each 'btfuse run' included,
// whose whole start-up budget is a few milliseconds.

// modeColors are the bar colours of the modes: colour-blind safe (Okabe-Ito).
var modeColors = map[string]string{
	ModeNative: "#0072B2", // blue
	ModeFuse:   "#E69F00", // orange
	ModeRun:    "#009E73", // green
	ModeFast:   "#CC79A7", // reddish purple
}

// PlotFormat checks the name of a --plot file before the bench starts (not
// after it ran for a quarter of an hour) and returns its format.
func PlotFormat(path string) (string, error) {
	if strings.ToLower(filepath.Ext(path)) != ".svg" {
		return "", fmt.Errorf("--plot %s: the file name must end in .svg (the plot is SVG)", path)
	}
	return "svg", nil
}

// SavePlot draws the report into path, an SVG file.
func (r *Report) SavePlot(path string) error {
	if _, err := PlotFormat(path); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WritePlot(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Layout of the plot, in pixels.
const (
	plotLeft   = 90  // room for the time axis labels
	plotTop    = 80  // title and legend
	plotHeight = 380 // the bars' area
	plotBottom = 140 // room for the rotated workload labels
	plotRight  = 20
	groupWidth = 54 // per row: three bars and a gap
)

// WritePlot draws the median of every row and mode as grouped bars: one
// group (an SVG <g class="workload">) per row, one bar per mode, on a
// logarithmic time axis (the rows span nanoseconds to seconds), each bar
// with a whisker from the minimum to the maximum sample and a tooltip
// with the numbers. Failed rows keep their place, without bars.
func (r *Report) WritePlot(w io.Writer) error {
	rows := r.Rows()
	if len(rows) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	lo, hi := yRange(rows)
	width := plotLeft + groupWidth*len(rows) + plotRight
	height := plotTop + plotHeight + plotBottom
	bottom := plotTop + plotHeight
	y := func(ns float64) int {
		f := (math.Log10(ns) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
		return bottom - int(math.Round(f*plotHeight))
	}

	c := svg.New(w)
	c.Start(width, height)
	c.Title("btfuse bench")
	c.Rect(0, 0, width, height, "fill:white")
	c.Gstyle("font-family:sans-serif;font-size:12px")
	c.Text(width/2, 22, "btfuse bench: kernel tmpfs (native), FUSE door (fuse), supervised door (run)",
		"text-anchor:middle;font-size:15px;font-weight:bold")
	c.Text(width/2, 42, fmt.Sprintf("bar: median of %d samples, whisker: min to max, log scale; %s", r.Rounds, r.Machine),
		"text-anchor:middle")
	for k, m := range r.Modes {
		x := plotLeft + 10 + k*90
		c.Rect(x, 54, 14, 14, "fill:"+modeColors[m])
		c.Text(x+19, 66, m)
	}

	// The time axis: a labelled grid line per decade, short marks between.
	c.Gid("axis")
	for _, t := range timeTicks(lo, hi) {
		ty := y(t.value)
		if t.label == "" {
			c.Line(plotLeft-4, ty, plotLeft, ty, "stroke:black")
			continue
		}
		c.Line(plotLeft, ty, width-plotRight, ty, "stroke:#dddddd")
		c.Line(plotLeft-7, ty, plotLeft, ty, "stroke:black")
		c.Text(plotLeft-10, ty+4, t.label, "text-anchor:end")
	}
	c.Line(plotLeft, plotTop, plotLeft, bottom, "stroke:black")
	c.Line(plotLeft, bottom, width-plotRight, bottom, "stroke:black")
	c.TranslateRotate(22, plotTop+plotHeight/2, -90)
	c.Text(0, 0, "time per [unit]", "text-anchor:middle;font-size:13px")
	c.Gend()
	c.Gend()

	barWidth := (groupWidth - 12) / len(r.Modes)
	for i, row := range rows {
		x0 := plotLeft + i*groupWidth + 6
		c.Group(`class="workload"`, fmt.Sprintf(`id="row-%d"`, i))
		for k, m := range r.Modes {
			s := row.Stats[m]
			if s.N == 0 {
				continue
			}
			bx, top := x0+k*barWidth, y(s.Median)
			c.Group(`class="bar"`, fmt.Sprintf(`data-mode="%s"`, m))
			c.Title(fmt.Sprintf("%s, %s: %s", row.Label, m, formatSummary(s)))
			c.Rect(bx, top, barWidth-1, bottom-top, "fill:"+modeColors[m])
			mid := bx + barWidth/2
			c.Line(mid, y(s.Max), mid, y(s.Min), "stroke:black;stroke-width:1")
			c.Gend()
		}
		label, style := plotLabel(row), "text-anchor:end"
		if row.Error != "" {
			style += ";fill:#C00000"
		}
		lx := x0 + groupWidth/2 - 4
		c.Text(lx, bottom+14, label, style, fmt.Sprintf(`transform="rotate(-40 %d %d)"`, lx, bottom+14))
		c.Gend()
	}
	c.Gend()
	c.End()
	return nil
}

// plotLabel names a row under its bars, with its unit in brackets.
func plotLabel(row Row) string {
	switch {
	case row.Error != "":
		return row.Label + " FAILED"
	case row.Per == "command":
		return strings.TrimSuffix(row.Label, " (whole command)") + " [whole command]"
	default:
		return fmt.Sprintf("%s [%s]", row.Label, row.Per)
	}
}

// yRange is a range of whole decades holding every sample, in ns.
func yRange(rows []Row) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, row := range rows {
		for _, s := range row.Stats {
			if s.N > 0 && s.Min > 0 {
				lo, hi = math.Min(lo, s.Min), math.Max(hi, s.Max)
			}
		}
	}
	if hi == 0 {
		return 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

// tick is a mark on the time axis; minor ones have no label.
type tick struct {
	value float64
	label string
}

// timeTicks labels the powers of ten between lo and hi ns with time units
// (1 us, 10 us, ..., 1 s), and marks 2..9 times each as minor ticks.
func timeTicks(lo, hi float64) []tick {
	var ticks []tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		decade := math.Pow(10, e)
		if decade >= lo*0.999 && decade <= hi*1.001 {
			ticks = append(ticks, tick{decade, FormatDecade(decade)})
		}
		for k := 2.0; k < 10; k++ {
			if v := k * decade; v > lo && v < hi {
				ticks = append(ticks, tick{value: v})
			}
		}
	}
	return ticks
}

// FormatDecade names a power of ten of nanoseconds: 1 ns ... 100 ns,
// 1 us ..., 1 s, 10 s.
func FormatDecade(ns float64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}} {
		if ns >= u.size*0.999 {
			return fmt.Sprintf("%g %s", math.Round(ns/u.size), u.name)
		}
	}
	return fmt.Sprintf("%g ns", math.Round(ns))
}
