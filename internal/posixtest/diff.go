package posixtest

import (
	"fmt"
	"strings"
)

// Diff compares two transcripts and returns "" when they are equal, or the
// differing lines: "-" lines only wantName printed, "+" lines only gotName,
// with two lines of context and line numbers of the want side.
func Diff(wantName string, want []string, gotName string, got []string) string {
	// Common prefix and suffix, then a longest-common-subsequence table on
	// what is left when it is small enough.
	p := 0
	for p < len(want) && p < len(got) && want[p] == got[p] {
		p++
	}
	if p == len(want) && p == len(got) {
		return ""
	}
	sfx := 0
	for sfx < len(want)-p && sfx < len(got)-p && want[len(want)-1-sfx] == got[len(got)-1-sfx] {
		sfx++
	}
	a, b := want[p:len(want)-sfx], got[p:len(got)-sfx]
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", wantName, gotName)
	if len(a)*len(b) > 4<<20 {
		fmt.Fprintf(&out, "@@ line %d: too different to align; first lines:\n", p+1)
		for i := 0; i < 5 && i < len(a); i++ {
			fmt.Fprintf(&out, "-%s\n", a[i])
		}
		for i := 0; i < 5 && i < len(b); i++ {
			fmt.Fprintf(&out, "+%s\n", b[i])
		}
		return out.String()
	}
	// lcs[i][j]: length of the LCS of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		tag  byte
		text string
		n    int // line number on the want side
	}
	var ops []line
	for i := max(0, p-2); i < p; i++ {
		ops = append(ops, line{' ', want[i], i + 1})
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, line{' ', a[i], p + i + 1})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, line{'+', b[j], p + i + 1})
			j++
		default:
			ops = append(ops, line{'-', a[i], p + i + 1})
			i++
		}
	}
	for k := 0; k < 2 && k < sfx; k++ {
		ops = append(ops, line{' ', want[len(want)-sfx+k], len(want) - sfx + k + 1})
	}
	// Print changed lines with two lines of context around each.
	near := func(k int) bool {
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(ops) && ops[k+d].tag != ' ' {
				return true
			}
		}
		return false
	}
	gap := true
	for k, l := range ops {
		if !near(k) {
			gap = true
			continue
		}
		if gap {
			fmt.Fprintf(&out, "@@ line %d\n", l.n)
			gap = false
		}
		fmt.Fprintf(&out, "%c%s\n", l.tag, l.text)
	}
	return out.String()
}
