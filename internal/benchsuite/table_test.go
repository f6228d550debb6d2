package benchsuite

import (
	"strings"
	"testing"
)

func TestFormatNS(t *testing.T) {
	for _, tc := range []struct {
		ns   float64
		want string
	}{
		{0, "0.00 ns"}, {812, "812 ns"}, {3410, "3.41 us"}, {12_700_000, "12.7 ms"}, {1.52e9, "1.52 s"}, {250e9, "250 s"},
	} {
		if got := FormatNS(tc.ns); got != tc.want {
			t.Errorf("FormatNS(%v) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

// parseTable splits a Markdown table into rows of trimmed cells, checking
// that every row has as many cells as the header.
func parseTable(t *testing.T, s string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(rows) > 0 && len(cells) != len(rows[0]) {
			t.Fatalf("row %q has %d cells, header %d", line, len(cells), len(rows[0]))
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := testReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	rows := parseTable(t, out)
	want := [][]string{
		{"workload", "per", "native", "fuse", "run", "fast", "run/native", "fuse/run", "fast/native", "fuse/fast"},
		{"---"},
		{"stat", "op", "4.00 us (2.00 us-6.00 us)", "10.0 us (5.00 us-15.0 us)", "80.0 us (40.0 us-120 us)", "6.00 us (3.00 us-9.00 us)", "20.00x", "0.12x", "1.50x", "1.67x"},
		{"cat", "cat", "4.00 ms (2.00 ms-6.00 ms)", "10.0 ms (5.00 ms-15.0 ms)", "80.0 ms (40.0 ms-120 ms)", "6.00 ms (3.00 ms-9.00 ms)", "20.00x", "0.12x", "1.50x", "1.67x"},
		{"cat (whole command)", "command", "400 ms (200 ms-600 ms)", "1.00 s (500 ms-1.50 s)", "8.00 s (4.00 s-12.0 s)", "600 ms (300 ms-900 ms)", "20.00x", "0.12x", "1.50x", "1.67x"},
		{"git FAILED", "run", "-", "-", "-", "-", "-", "-", "-", "-"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d table rows, want %d:\n%s", len(rows), len(want), out)
	}
	for i, w := range want {
		if i == 1 {
			if strings.Trim(rows[1][0], "-") != "" {
				t.Errorf("second line is not the separator: %v", rows[1])
			}
			continue
		}
		if strings.Join(rows[i], "|") != strings.Join(w, "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], w)
		}
	}
	if !strings.Contains(out, "- git failed: git not found in PATH; install it\n") {
		t.Errorf("the failure is not listed on one line below the table:\n%s", out)
	}
}

// TestWriteTableWithoutFast: a bench run by a btfuse without the fast
// lane's library has no fast column and no fast ratios.
func TestWriteTableWithoutFast(t *testing.T) {
	rep := testReport()
	rep.Modes = []string{ModeNative, ModeFuse, ModeRun}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	rows := parseTable(t, b.String())
	want := []string{"workload", "per", "native", "fuse", "run", "run/native", "fuse/run"}
	if strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("header %q, want %q", rows[0], want)
	}
	if got := rows[2]; got[len(got)-1] != "0.12x" {
		t.Errorf("stat row %q", got)
	}
}
