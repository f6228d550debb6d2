package benchsuite

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// svgElements decodes an SVG document, failing the test if it is not
// well-formed XML, and returns its text contents and the fill colours of
// its paths.
func svgElements(t *testing.T, doc []byte) (texts []string, fills map[string]int) {
	t.Helper()
	fills = map[string]int{}
	fillRE := regexp.MustCompile(`fill:(#[0-9A-Fa-f]{6})`)
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var inText bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			inText = el.Name.Local == "text"
			if el.Name.Local == "path" {
				for _, a := range el.Attr {
					if m := fillRE.FindStringSubmatch(a.Value); a.Name.Local == "style" && m != nil {
						fills[strings.ToUpper(m[1])]++
					}
				}
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return texts, fills
}

func TestPlotSVG(t *testing.T) {
	rep := testReport()
	var b bytes.Buffer
	if err := rep.WritePlot(&b, "svg"); err != nil {
		t.Fatal(err)
	}
	texts, fills := svgElements(t, b.Bytes())
	count := map[string]int{}
	for _, s := range texts {
		count[s]++
	}
	// One labelled group per row: stat, cat, cat's whole command, failed git.
	for _, label := range []string{"stat [op]", "cat [cat]", "cat [whole command]", "git FAILED"} {
		if count[label] != 1 {
			t.Errorf("x label %q appears %d times, want once; texts: %q", label, count[label], texts)
		}
	}
	for _, m := range Modes {
		if count[m] != 1 {
			t.Errorf("legend entry %q appears %d times", m, count[m])
		}
	}
	for _, tick := range []string{"1 us", "1 ms", "1 s"} {
		if count[tick] != 1 {
			t.Errorf("log axis tick %q appears %d times", tick, count[tick])
		}
	}
	// One bar per mode in each of the three rows with samples, plus the
	// mode's legend swatch; none for the failed row.
	for _, m := range Modes {
		if got := fills[hexColor(modeColors[m])]; got != 3+1 {
			t.Errorf("%d paths filled with %s's colour, want 3 bars + 1 swatch", got, m)
		}
	}
}

func TestPlotPNGAndNames(t *testing.T) {
	rep := testReport()
	dir := t.TempDir()
	p := filepath.Join(dir, "b.PNG")
	if err := rep.SavePlot(p); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WritePlot(&b, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 500 || r.Dy() < 300 {
		t.Errorf("PNG of %v: too small to read", r)
	}
	for _, bad := range []string{"b.pdf", "b", "b.svg.txt"} {
		if err := rep.SavePlot(filepath.Join(dir, bad)); err == nil {
			t.Errorf("SavePlot(%q) accepted a name that is neither .svg nor .png", bad)
		}
	}
}

// hexColor is c as an SVG colour, #RRGGBB.
func hexColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}
