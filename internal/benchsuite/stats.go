package benchsuite

import (
	"math"
	"slices"
)

// Summary condenses the samples of one workload in one mode.
type Summary struct {
	Median float64 `json:"median_ns"`
	Min    float64 `json:"min_ns"`
	Max    float64 `json:"max_ns"`
	N      int     `json:"n"`
}

// Summarize returns the median (the mean of the middle two for an even
// count), minimum and maximum of vals; N is 0 for no values. The median,
// not the mean: on a shared machine one sample hit by another job's burst
// must not move the figure.
func Summarize(vals []float64) Summary {
	if len(vals) == 0 {
		return Summary{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Ratio returns a/b of two medians, NaN when either is missing.
func Ratio(a, b Summary) float64 {
	if a.N == 0 || b.N == 0 || b.Median == 0 {
		return math.NaN()
	}
	return a.Median / b.Median
}
