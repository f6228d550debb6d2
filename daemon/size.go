package daemon

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSize parses a size as tmpfs's size= option does: a number of bytes
// with an optional k, M, G or T suffix (powers of 1024; a trailing "B" or
// "iB" is accepted too), or a percentage of physical RAM such as "50%". The
// empty string means "the default" and returns 0; zero itself is refused
// (tmpfs takes it as "no limit", btfuse's default is half of RAM, and a
// silent choice between the two would surprise either way).
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	if pct, ok := strings.CutSuffix(t, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p <= 0 || p > 100 || math.IsNaN(p) {
			return 0, fmt.Errorf("invalid size %q: a percentage must be between 0 and 100, like 50%%", s)
		}
		ram, err := totalRAM()
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		return uint64(float64(ram) * p / 100), nil
	}
	n, err := parseSuffixed(t)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: use a number of bytes with an optional k, M, G or T suffix (1G, 512M), or a percentage of RAM like 50%%", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("invalid size %q: give a size above 0, or leave it out for the default (half of RAM)", s)
	}
	return n, nil
}

// ParseCount parses a count such as --inodes: a number with an optional k,
// M or G suffix (powers of 1024, as tmpfs's nr_inodes= takes). The empty
// string means "the default" and returns 0; zero is refused, as by
// ParseSize.
func ParseCount(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	n, err := parseSuffixed(t)
	if err != nil || strings.HasSuffix(strings.ToUpper(t), "B") {
		return 0, fmt.Errorf("invalid count %q: use a whole number with an optional k, M or G suffix, like 100000 or 1M", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("invalid count %q: give a count above 0, or leave it out for the default (as tmpfs: half the RAM pages)", s)
	}
	return n, nil
}

// parseSuffixed parses a whole number with an optional binary suffix.
func parseSuffixed(t string) (uint64, error) {
	u := strings.ToUpper(t)
	u = strings.TrimSuffix(u, "IB")
	if len(u) > 1 || u != "B" {
		u = strings.TrimSuffix(u, "B")
	}
	shift := 0
	if u != "" {
		switch u[len(u)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			u = u[:len(u)-1]
		}
	}
	if u == "" || strings.ContainsAny(u, "+-") {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(u, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint64>>shift {
		return 0, strconv.ErrRange
	}
	return n << shift, nil
}

func totalRAM() (uint64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, fmt.Errorf("sysinfo: %w", err)
	}
	return uint64(si.Totalram) * uint64(si.Unit), nil
}
