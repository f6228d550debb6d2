package faults

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Syntax is the accepted rule syntax, quoted in every parse error.
const Syntax = `SET:ACTION[:ACTION...]
  SET      name[,name...] with %class, /regex, all; '!' first negates, '?name' may name nothing
  ACTION   error=ERRNO | retval=N | signal=SIG | delay_enter=D | delay_exit=D |
           when=FIRST[..LAST][+[STEP]] | path=GLOB | prob=P | seed=N | short=N |
           corrupt=N | enospc=SIZE | pid=N[,N...] | comm=NAME | count=N
  at least one of error, retval, signal, delays, short, corrupt, enospc; '\:' is a colon in a value`

// Rule is one parsed rule. Its fields are read-only once it is in a Set.
type Rule struct {
	ID   int    // assigned by Set.Add
	Text string // as written
	// Group, when not 0, limits the rule to calls of that group (a lane's
	// unit, such as the processes of one 'btfuse run').
	Group uint64

	Syscalls Mask

	Errno     unix.Errno // error=
	Retval    int64      // retval=
	HasRetval bool
	Signal    unix.Signal
	// DelayEnter and DelayExit: before and after the call.
	DelayEnter, DelayExit time.Duration

	// when=: the FIRST-th matching call fires, then every STEP-th through
	// LAST. Step 0 fires FIRST only.
	First, Last, Step uint64

	Path string         // path= glob as written
	path *regexp.Regexp // compiled Path
	Prob float64        // prob=: chance that a call chosen by when= fires; 1 when absent
	// Seed feeds prob= and corrupt=; HasSeed when seed= was given.
	Seed    uint64
	HasSeed bool
	Short   int64 // short=: at most that many bytes move (0: not set)
	Corrupt int   // corrupt=: bytes flipped
	ENOSPC  int64 // enospc=: writes past this size fail; -1 when absent
	Pids    []int
	Comm    string
	Count   uint64 // count=: at most that many faults; 0 is unlimited
}

// Error is a rule that does not parse.
type Error struct {
	Rule string
	Pos  int // byte offset in Rule
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("inject rule %q: at byte %d: %s\naccepted syntax:\n%s", e.Rule, e.Pos, e.Msg, Syntax)
}

// field is one ':'-separated part of a rule, unescaped, with its offset.
type field struct {
	s   string
	pos int
}

// splitFields splits on unescaped colons; '\:' is a colon and '\\' a
// backslash inside a field.
func splitFields(s string) []field {
	var out []field
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == ':' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case s[i] == ':':
			out = append(out, field{b.String(), start})
			b.Reset()
			start = i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return append(out, field{b.String(), start})
}

// Parse parses one rule.
func Parse(text string) (*Rule, error) {
	r := &Rule{Text: text, First: 1, Last: math.MaxUint64, Step: 1, Prob: 1, ENOSPC: -1}
	fail := func(pos int, format string, a ...any) error {
		return &Error{Rule: text, Pos: pos, Msg: fmt.Sprintf(format, a...)}
	}
	fs := splitFields(text)
	if err := parseSet(text, fs[0], &r.Syscalls); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	acts := 0
	for _, f := range fs[1:] {
		key, val, ok := strings.Cut(f.s, "=")
		if !ok {
			return nil, fail(f.pos, "%q: want KEY=VALUE", f.s)
		}
		vpos := f.pos + len(key) + 1
		if seen[key] {
			return nil, fail(f.pos, "%s= given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "error":
			r.Errno, err = parseErrno(val)
			acts++
		case "retval":
			r.Retval, err = strconv.ParseInt(val, 0, 64)
			r.HasRetval = true
			acts++
		case "signal":
			r.Signal, err = parseSignal(val)
			acts++
		case "delay_enter":
			r.DelayEnter, err = parseDelay(val)
			acts++
		case "delay_exit":
			r.DelayExit, err = parseDelay(val)
			acts++
		case "when":
			r.First, r.Last, r.Step, err = parseWhen(val)
		case "path":
			if val == "" {
				err = fmt.Errorf("empty glob")
				break
			}
			r.Path = val
			r.path, err = compileGlob(val)
		case "prob":
			r.Prob, err = parseProb(val)
		case "seed":
			r.Seed, err = strconv.ParseUint(val, 0, 64)
			r.HasSeed = true
		case "short":
			r.Short, err = parseSize(val)
			if err == nil && r.Short == 0 {
				err = fmt.Errorf("short=0 moves nothing: use retval=0")
			}
			acts++
		case "corrupt":
			var n int64
			n, err = parseSize(val)
			if err == nil && (n < 1 || n > 1<<20) {
				err = fmt.Errorf("want 1 to 1M bytes")
			}
			r.Corrupt = int(n)
			acts++
		case "enospc":
			r.ENOSPC, err = parseSize(val)
			acts++
		case "pid":
			for _, p := range strings.Split(val, ",") {
				n, e := strconv.Atoi(p)
				if e != nil || n <= 0 {
					err = fmt.Errorf("pid %q: want a positive number", p)
					break
				}
				r.Pids = append(r.Pids, n)
			}
		case "comm":
			if val == "" || len(val) > 15 {
				err = fmt.Errorf("want 1 to 15 bytes (the kernel's TASK_COMM_LEN)")
			}
			r.Comm = val
		case "count":
			r.Count, err = strconv.ParseUint(val, 10, 64)
			if err == nil && r.Count == 0 {
				err = fmt.Errorf("count=0 never fires")
			}
		case "syscall", "poke_enter", "poke_exit":
			err = fmt.Errorf("strace's %s= is not supported by btfuse", key)
		default:
			return nil, fail(f.pos, "unknown key %q", key)
		}
		if err != nil {
			return nil, fail(vpos, "%s=%s: %v", key, val, err)
		}
	}
	if acts == 0 {
		return nil, fail(len(text), "no action: give error=, retval=, signal=, delay_enter=, delay_exit=, short=, corrupt= or enospc=")
	}
	replace := 0
	for _, k := range []string{"error", "retval", "short", "corrupt", "enospc"} {
		if seen[k] {
			replace++
		}
	}
	if replace > 1 {
		return nil, fail(0, "error=, retval=, short=, corrupt= and enospc= exclude each other")
	}
	if (seen["short"] || seen["corrupt"]) && !onlyIn(&r.Syscalls, &rwMask) {
		return nil, fail(0, "short= and corrupt= apply to read, pread64, readv, write, pwrite64 and writev only, and the set names %s", strings.Join(outside(&r.Syscalls, &rwMask), ","))
	}
	if seen["enospc"] && !onlyIn(&r.Syscalls, &wMask) {
		return nil, fail(0, "enospc= applies to write, pwrite64 and writev only, and the set names %s", strings.Join(outside(&r.Syscalls, &wMask), ","))
	}
	return r, nil
}

func onlyIn(m, in *Mask) bool { return m[0]&^in[0] == 0 && m[1]&^in[1] == 0 }

func outside(m, in *Mask) []string {
	var o Mask
	o[0], o[1] = m[0]&^in[0], m[1]&^in[1]
	return o.Syscalls()
}

// parseSet parses the syscall set of a rule into m.
func parseSet(text string, f field, m *Mask) error {
	fail := func(pos int, format string, a ...any) error {
		return &Error{Rule: text, Pos: pos, Msg: fmt.Sprintf(format, a...)}
	}
	s, pos := f.s, f.pos
	neg := strings.HasPrefix(s, "!")
	if neg {
		s, pos = s[1:], pos+1
	}
	if s == "" {
		return fail(pos, "no syscall set")
	}
	for _, el := range strings.Split(s, ",") {
		optional := strings.HasPrefix(el, "?")
		name := strings.TrimPrefix(el, "?")
		var add Mask
		switch {
		case name == "":
			return fail(pos, "empty syscall name")
		case name == "all":
			add = allMask
		case strings.HasPrefix(name, "%"):
			cls, ok := classes[name[1:]]
			if !ok {
				return fail(pos, "unknown class %q", name)
			}
			for i, k := range knownSyscalls {
				if k.class&cls != 0 {
					add.set(Sys(i))
				}
			}
		case strings.HasPrefix(name, "/"):
			re, err := regexp.Compile(name[1:])
			if err != nil {
				return fail(pos+1, "regex: %v", err)
			}
			for i, k := range knownSyscalls {
				if re.MatchString(k.name) {
					add.set(Sys(i))
				}
			}
		default:
			if id := SyscallID(name); id != NoSys {
				add.set(id)
			}
		}
		if add.empty() && !optional {
			return fail(pos, "%q names no syscall btfuse can intercept (a '?' before it ignores it)", name)
		}
		m.or(&add)
		pos += len(el) + 1
	}
	if neg {
		m.invert(&allMask)
	}
	if m.empty() {
		return fail(f.pos, "the set names no syscall")
	}
	return nil
}

var errnoByName = func() map[string]unix.Errno {
	m := map[string]unix.Errno{}
	for e := unix.Errno(1); e < 4096; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = e
		}
	}
	return m
}()

func parseErrno(s string) (unix.Errno, error) {
	if e, ok := errnoByName[s]; ok {
		return e, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 4095 {
		return 0, fmt.Errorf("want an errno name (EPERM) or a number from 1 to 4095")
	}
	return unix.Errno(n), nil
}

func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("want a signal from 1 to 64")
		}
		return unix.Signal(n), nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal")
}

// parseDelay reads a delay: microseconds as strace, or with a unit.
func parseDelay(s string) (time.Duration, error) {
	unit := time.Microsecond
	for _, u := range []struct {
		suf string
		d   time.Duration
	}{{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}} {
		if strings.HasSuffix(s, u.suf) {
			s, unit = strings.TrimSuffix(s, u.suf), u.d
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("want a number of microseconds, or one with a ns, us, ms or s suffix")
	}
	d := time.Duration(n) * unit
	if d > time.Hour {
		return 0, fmt.Errorf("longer than an hour")
	}
	return d, nil
}

// parseWhen reads FIRST[..LAST][+[STEP]].
func parseWhen(s string) (first, last, step uint64, err error) {
	bad := fmt.Errorf("want FIRST[..LAST][+[STEP]] with 1 <= FIRST <= LAST and STEP >= 1")
	rng, stepText, plus := strings.Cut(s, "+")
	f, l, dots := strings.Cut(rng, "..")
	first, err = strconv.ParseUint(f, 10, 32)
	if err != nil || first == 0 {
		return 0, 0, 0, bad
	}
	last, step = first, 0
	if plus {
		last, step = math.MaxUint64, 1
		if stepText != "" {
			step, err = strconv.ParseUint(stepText, 10, 32)
			if err != nil || step == 0 {
				return 0, 0, 0, bad
			}
		}
	}
	if dots {
		last, err = strconv.ParseUint(l, 10, 32)
		if err != nil || last < first {
			return 0, 0, 0, bad
		}
		if !plus {
			step = 1
		}
	}
	return first, last, step, nil
}

func parseProb(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		p /= 100
	}
	if err != nil || !(p >= 0 && p <= 1) {
		return 0, fmt.Errorf("want a probability from 0 to 1, or a percentage")
	}
	return p, nil
}

// parseSize reads bytes with an optional k, M or G suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a number of bytes with an optional k, M or G suffix")
	}
	return n * mult, nil
}

// compileGlob turns a path glob into a regexp. '*' and '?' never match
// '/', '**' matches anything (slashes included), '[...]' is a class. A
// glob that does not start with '/' matches the path's trailing
// components, as if it began with '**/'.
func compileGlob(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	if !strings.HasPrefix(g, "/") {
		b.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				if i+1 < len(g) && g[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := i + 1
			if j < len(g) && (g[j] == '!' || g[j] == '^') {
				j++
			}
			if j < len(g) && g[j] == ']' {
				j++
			}
			for j < len(g) && g[j] != ']' {
				j++
			}
			if j >= len(g) {
				return nil, fmt.Errorf("unclosed '['")
			}
			cls := g[i+1 : j]
			if strings.HasPrefix(cls, "!") {
				cls = "^" + cls[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(cls, `\`, `\\`) + "]")
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// ParseFile parses rules one per line; blank lines and lines starting
// with '#' are skipped. An error names the line.
func ParseFile(name, content string) ([]*Rule, error) {
	var out []*Rule
	for i, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
