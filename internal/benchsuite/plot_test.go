package benchsuite

import (
	"bytes"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// svgNode is an element of a parsed SVG document.
type svgNode struct {
	name     string
	attrs    map[string]string
	text     string
	children []*svgNode
}

// parseSVG decodes doc, failing the test if it is not well-formed XML or
// not an <svg> document.
func parseSVG(t *testing.T, doc []byte) *svgNode {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	root := &svgNode{}
	stack := []*svgNode{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		top := stack[len(stack)-1]
		switch el := tok.(type) {
		case xml.StartElement:
			n := &svgNode{name: el.Name.Local, attrs: map[string]string{}}
			for _, a := range el.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text += string(el)
		}
	}
	if len(root.children) != 1 || root.children[0].name != "svg" {
		t.Fatalf("the document's root is not <svg>")
	}
	return root.children[0]
}

// find returns the descendants of n for which match holds.
func (n *svgNode) find(match func(*svgNode) bool) []*svgNode {
	var out []*svgNode
	for _, c := range n.children {
		if match(c) {
			out = append(out, c)
		}
		out = append(out, c.find(match)...)
	}
	return out
}

func hasClass(class string) func(*svgNode) bool {
	return func(n *svgNode) bool { return n.name == "g" && n.attrs["class"] == class }
}

func TestPlotSVG(t *testing.T) {
	rep := testReport()
	var b bytes.Buffer
	if err := rep.WritePlot(&b); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, b.Bytes())

	// One group per row: stat, cat, cat's whole command, the failed git;
	// three bars (one per mode) in each but the failed one.
	groups := doc.find(hasClass("workload"))
	want := []struct {
		label string
		bars  int
	}{{"stat [op]", 4}, {"cat [cat]", 4}, {"cat [whole command]", 4}, {"git FAILED", 0}}
	if len(groups) != len(want) {
		t.Fatalf("%d workload groups, want %d", len(groups), len(want))
	}
	for i, g := range groups {
		texts := g.find(func(n *svgNode) bool { return n.name == "text" })
		if len(texts) != 1 || strings.TrimSpace(texts[0].text) != want[i].label {
			t.Errorf("group %d labelled %v, want %q", i, texts, want[i].label)
		}
		bars := g.find(hasClass("bar"))
		if len(bars) != want[i].bars {
			t.Errorf("group %q has %d bars, want %d", want[i].label, len(bars), want[i].bars)
		}
		for k, bar := range bars {
			if bar.attrs["data-mode"] != Modes[k] {
				t.Errorf("group %q bar %d is %q, want %q", want[i].label, k, bar.attrs["data-mode"], Modes[k])
			}
			if rects := bar.find(func(n *svgNode) bool { return n.name == "rect" }); len(rects) != 1 ||
				!strings.Contains(rects[0].attrs["style"], modeColors[Modes[k]]) {
				t.Errorf("group %q bar %d: no rect in its mode's colour", want[i].label, k)
			}
		}
	}

	// The medians order the bar heights: run is 20x native in the report.
	stat := groups[0].find(func(n *svgNode) bool { return n.name == "rect" })
	if h := func(n *svgNode) string { return n.attrs["height"] }; len(stat) == 3 && !(atoi(h(stat[0])) < atoi(h(stat[1])) && atoi(h(stat[1])) < atoi(h(stat[2]))) {
		t.Errorf("bar heights %s, %s, %s do not grow with native < fuse < run", h(stat[0]), h(stat[1]), h(stat[2]))
	}

	all := strings.Join(texts(doc), "\n")
	for _, s := range append([]string{"1 us", "1 ms", "1 s", "time per [unit]", "Linux 6.18.0"}, Modes...) {
		if !strings.Contains(all, s) {
			t.Errorf("the plot has no text %q", s)
		}
	}
}

func texts(n *svgNode) []string {
	var out []string
	for _, t := range n.find(func(n *svgNode) bool { return n.name == "text" || n.name == "title" }) {
		out = append(out, t.text)
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestPlotNames(t *testing.T) {
	rep := testReport()
	dir := t.TempDir()
	if err := rep.SavePlot(filepath.Join(dir, "b.SVG")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"b.png", "b.pdf", "b", "b.svg.txt"} {
		if err := rep.SavePlot(filepath.Join(dir, bad)); err == nil {
			t.Errorf("SavePlot(%q) accepted a name not ending in .svg", bad)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	var labels []string
	minor := 0
	for _, tk := range timeTicks(1e3, 1e6) {
		if tk.label == "" {
			minor++
		} else {
			labels = append(labels, tk.label)
		}
	}
	if strings.Join(labels, ",") != "1 us,10 us,100 us,1 ms" || minor != 3*8 {
		t.Errorf("ticks 1us..1ms: labels %q, %d minor; want 4 decades and 24 minor", labels, minor)
	}
	for ns, want := range map[float64]string{1: "1 ns", 100: "100 ns", 1e4: "10 us", 1e9: "1 s", 1e10: "10 s"} {
		if got := FormatDecade(ns); got != want {
			t.Errorf("FormatDecade(%g) = %q, want %q", ns, got, want)
		}
	}
}
