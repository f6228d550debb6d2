package benchsuite

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{7}, Summary{Median: 7, Min: 7, Max: 7, N: 1}},
		{"odd", []float64{5, 1, 9, 3, 7}, Summary{Median: 5, Min: 1, Max: 9, N: 5}},
		{"even", []float64{4, 1, 3, 2}, Summary{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{"outlier does not move the median", []float64{10, 11, 12, 13, 1e9}, Summary{Median: 12, Min: 10, Max: 1e9, N: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Summarize reordered its argument: %v", tc.in)
				}
			}
		})
	}
}

func TestRatio(t *testing.T) {
	a, b := Summary{Median: 6, N: 3}, Summary{Median: 2, N: 3}
	if got := Ratio(a, b); got != 3 {
		t.Errorf("Ratio = %v, want 3", got)
	}
	for _, tc := range []struct{ a, b Summary }{{a, Summary{}}, {Summary{}, b}, {a, Summary{N: 1}}} {
		if got := Ratio(tc.a, tc.b); !math.IsNaN(got) {
			t.Errorf("Ratio(%+v, %+v) = %v, want NaN", tc.a, tc.b, got)
		}
	}
}
