package daemon

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	ram, err := totalRAM()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want uint64
		err  string
	}{
		{in: "", want: 0},
		{in: "0", err: "above 0"},
		{in: "0M", err: "above 0"},
		{in: "4096", want: 4096},
		{in: "1k", want: 1 << 10},
		{in: "1K", want: 1 << 10},
		{in: "512M", want: 512 << 20},
		{in: "1G", want: 1 << 30},
		{in: "1g", want: 1 << 30},
		{in: "2T", want: 2 << 40},
		{in: "1GB", want: 1 << 30},
		{in: "1GiB", want: 1 << 30},
		{in: "100B", want: 100},
		{in: " 8M ", want: 8 << 20},
		{in: "50%", want: ram / 2},
		{in: "100%", want: ram},
		{in: "abc", err: "invalid size"},
		{in: "1X", err: "invalid size"},
		{in: "1.5G", err: "invalid size"},
		{in: "-1G", err: "invalid size"},
		{in: "+1G", err: "invalid size"},
		{in: "G", err: "invalid size"},
		{in: "B", err: "invalid size"},
		{in: "99999999999T", err: "invalid size"},
		{in: "0%", err: "between 0 and 100"},
		{in: "150%", err: "between 0 and 100"},
		{in: "x%", err: "between 0 and 100"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		// A percentage goes through a float: allow a rounding byte.
		if err != nil || got > tt.want+1 || got+1 < tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, false},
		{"100000", 100000, true},
		{"1k", 1024, true},
		{"1M", 1 << 20, true},
		{"2G", 2 << 30, true},
		{"1MB", 0, false},
		{"1.5k", 0, false},
		{"lots", 0, false},
		{"50%", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseCount(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "invalid count") {
			t.Errorf("ParseCount(%q) error %q does not say what is wrong", tt.in, err)
		}
	}
}
