package benchsuite

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// modeColors are the bar colours of the modes: colour-blind safe (Okabe-Ito).
var modeColors = map[string]color.Color{
	ModeNative: color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xff}, // blue
	ModeFuse:   color.RGBA{R: 0xE6, G: 0x9F, B: 0x00, A: 0xff}, // orange
	ModeRun:    color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xff}, // green
}

// PlotFormat returns the image format of a --plot file from its name, or
// an error saying which names work; checked before the bench starts, not
// after it ran for a quarter of an hour.
func PlotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg", ".png":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("--plot %s: the file name must end in .svg or .png", path)
	}
}

// SavePlot draws the report into path, as SVG or PNG after its name.
func (r *Report) SavePlot(path string) error {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WritePlot(f, format); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WritePlot draws the median of every row and mode as grouped bars: one
// group per row (workload), one bar per mode, on a logarithmic time axis
// (the rows span nanoseconds to seconds), each bar with a whisker from the
// minimum to the maximum sample. Failed rows keep their place, without bars.
func (r *Report) WritePlot(w io.Writer, format string) error {
	rows := r.Rows()
	if len(rows) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("btfuse bench: kernel tmpfs (native), FUSE door (fuse), supervised door (run)\n"+
		"bar: median of %d samples, whisker: min to max; %s", r.Rounds, r.Machine)
	p.Title.Padding = vg.Points(8)
	// Short: gonum shrinks the data area to fit a rotated label longer
	// than the axis.
	p.Y.Label.Text = "time per [unit], log scale"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(timeTicks)
	p.Add(plotterGrid{})

	labels := make([]string, len(rows))
	for i, row := range rows {
		labels[i] = fmt.Sprintf("%s [%s]", row.Label, row.Per)
		if row.Per == "command" {
			labels[i] = fmt.Sprintf("%s [whole command]", strings.TrimSuffix(row.Label, " (whole command)"))
		}
		if row.Error != "" {
			labels[i] = row.Label + " FAILED"
		}
	}
	bars := &groupedBars{rows: rows, modes: r.Modes}
	p.Add(bars)
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YTop
	p.Legend.Top = true
	p.Legend.Left = true
	for _, m := range r.Modes {
		p.Legend.Add(m, swatch{modeColors[m]})
	}
	if lo, hi := bars.yRange(); lo > 0 {
		p.Y.Min, p.Y.Max = lo, hi
	}
	width := vg.Length(max(8, 0.55*float64(len(rows)))) * vg.Inch
	wt, err := p.WriterTo(width, 7*vg.Inch, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// groupedBars draws one group of bars per row at x = its index.
type groupedBars struct {
	rows  []Row
	modes []string
}

// yRange is a padded range holding every sample, in ns, for the log axis.
func (g *groupedBars) yRange() (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, row := range g.rows {
		for _, s := range row.Stats {
			if s.N > 0 && s.Min > 0 {
				lo, hi = math.Min(lo, s.Min), math.Max(hi, s.Max)
			}
		}
	}
	if hi == 0 {
		return 1, 10
	}
	return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi*1.5)))
}

// DataRange implements plot.DataRanger.
func (g *groupedBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	lo, hi := g.yRange()
	return -0.5, float64(len(g.rows)) - 0.5, lo, hi
}

// Plot implements plot.Plotter: each bar rises from the bottom of the axis
// (a log axis has no zero) to the median.
func (g *groupedBars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	const groupWidth = 0.8
	barWidth := groupWidth / float64(len(g.modes))
	for i, row := range g.rows {
		for k, m := range g.modes {
			s := row.Stats[m]
			if s.N == 0 {
				continue
			}
			x0 := float64(i) - groupWidth/2 + float64(k)*barWidth
			left, right := trX(x0), trX(x0+barWidth)
			bottom, top := trY(plt.Y.Min), trY(s.Median)
			c.FillPolygon(modeColors[m], c.ClipPolygonY([]vg.Point{
				{X: left, Y: bottom}, {X: right, Y: bottom}, {X: right, Y: top}, {X: left, Y: top},
			}))
			mid := (left + right) / 2
			line := draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)}
			c.StrokeLines(line, c.ClipLinesY([]vg.Point{{X: mid, Y: trY(s.Min)}, {X: mid, Y: trY(s.Max)}})...)
		}
	}
}

// swatch is a legend entry: a square of the mode's colour.
type swatch struct{ color color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.color, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	})
}

// plotterGrid draws horizontal lines at the labelled ticks of the time axis.
type plotterGrid struct{}

func (plotterGrid) Plot(c draw.Canvas, plt *plot.Plot) {
	_, trY := plt.Transforms(&c)
	style := draw.LineStyle{Color: color.Gray{Y: 0xdd}, Width: vg.Points(0.5)}
	for _, t := range timeTicks(plt.Y.Min, plt.Y.Max) {
		if t.Label == "" {
			continue
		}
		y := trY(t.Value)
		c.StrokeLine2(style, c.Min.X, y, c.Max.X, y)
	}
}

// timeTicks labels the powers of ten between lo and hi ns with time units
// (1 us, 10 us, ..., 1 s), and marks 2..9 times each as minor ticks.
func timeTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		decade := math.Pow(10, e)
		if decade >= lo && decade <= hi {
			ticks = append(ticks, plot.Tick{Value: decade, Label: tickLabel(decade)})
		}
		for k := 2.0; k < 10; k++ {
			if v := k * decade; v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// tickLabel names a power of ten of nanoseconds: 1 ns ... 100 ns, 1 us ...
func tickLabel(ns float64) string {
	for _, u := range []struct {
		name string
		size float64
	}{{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}} {
		if ns >= u.size {
			return fmt.Sprintf("%g %s", math.Round(ns/u.size), u.name)
		}
	}
	return fmt.Sprintf("%g ns", ns)
}
