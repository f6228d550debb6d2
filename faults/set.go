package faults

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Call is what a lane knows about one call it may fault.
type Call struct {
	Sys Sys
	// Family, when set, are the syscalls the call stands for (a FUSE
	// request stands for several): a rule naming any of them matches,
	// and counts the call under Sys.
	Family *Mask
	// Group is the lane's unit the call comes from (0: none); rules of
	// another group do not match it.
	Group uint64
	// Path is the file the call names or the descriptor is open on ("" if
	// unknown); Path2 the second path of rename and link.
	Path, Path2 string
	Pid         int // the process (thread group) id
	// Comm returns the process's name; read only when a rule has comm=.
	Comm func() string
	// Pos returns the file position a write starts at, or -1 when unknown,
	// and Len is the number of bytes it asks to write; read only when a
	// rule has enospc=.
	Pos func() int64
	Len int64
}

// Fault is what to inject into a call.
type Fault struct {
	Rule int // the rule's ID
	// Errno, or Retval when HasRetval: the call does not run and returns
	// this.
	Errno                 unix.Errno
	Retval                int64
	HasRetval             bool
	Signal                unix.Signal // sent to the calling thread, as strace does
	DelayEnter, DelayExit time.Duration
	// Short: the call moves at most Short bytes (data calls).
	Short int64
	// Corrupt: that many bytes of the data moved are flipped, at places
	// drawn from Rand.
	Corrupt int
	// ENOSPC, when >= 0: the write moves only the bytes below this file
	// size, and fails with ENOSPC when there are none.
	ENOSPC int64
	// Rand is a deterministic draw for this fault (see the package doc).
	Rand uint64
}

// Replaces reports whether the call must not run: it returns the fault's
// error or value instead.
func (f *Fault) Replaces() bool { return f.Errno != 0 || f.HasRetval }

// Describe says what the fault injects, for traces and logs.
func (f *Fault) Describe() string {
	var s string
	switch {
	case f.Errno != 0:
		s = "error=" + unix.ErrnoName(f.Errno)
	case f.HasRetval:
		s = fmt.Sprintf("retval=%d", f.Retval)
	case f.Short > 0:
		s = fmt.Sprintf("short=%d", f.Short)
	case f.Corrupt > 0:
		s = fmt.Sprintf("corrupt=%d", f.Corrupt)
	case f.ENOSPC >= 0:
		s = fmt.Sprintf("enospc=%d", f.ENOSPC)
	}
	add := func(t string) {
		if s != "" {
			s += ":"
		}
		s += t
	}
	if f.Signal != 0 {
		add("signal=" + unix.SignalName(f.Signal))
	}
	if f.DelayEnter > 0 {
		add("delay_enter=" + f.DelayEnter.String())
	}
	if f.DelayExit > 0 {
		add("delay_exit=" + f.DelayExit.String())
	}
	return s
}

// ruleState is a rule in a Set with its counters.
type ruleState struct {
	*Rule
	fired atomic.Uint64
}

// rules is one immutable version of a Set's list.
type rules struct {
	list  []*ruleState
	wants Mask // union of the rules' syscalls
}

// Set is an ordered list of rules, applied by Match.
type Set struct {
	cur       atomic.Pointer[rules]
	nextID    atomic.Int64
	nextGroup atomic.Int64
	seed      uint64

	mu     sync.Mutex // guards edits of cur and calls
	calls  map[countKey]uint64
	closed bool
	// onChange is told after every edit of the list (OnChange).
	// Guarded by mu.
	onChange func()
}

// OnChange makes fn be called after every later edit of the list (Add,
// Del, DelGroup, Clear), before the edit returns, without the set's lock:
// a lane that answers calls where it cannot ask Wants each time (the fast
// lane's metadata view, inside the supervised process) steps aside for
// the calls the rules name before the rule that names them is in force.
func (s *Set) OnChange(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = fn
}

// changed calls the OnChange function.
func (s *Set) changed() {
	s.mu.Lock()
	fn := s.onChange
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

type countKey struct {
	rule int
	sys  Sys
	pid  int
}

// NewSet returns an empty set whose rules without seed= draw from seed.
func NewSet(seed uint64) *Set {
	s := &Set{seed: seed, calls: map[countKey]uint64{}}
	s.cur.Store(&rules{})
	return s
}

// NewGroup returns a group number not used before in this set.
func (s *Set) NewGroup() uint64 { return uint64(s.nextGroup.Add(1)) }

// Seed is the set's default seed.
func (s *Set) Seed() uint64 { return s.seed }

// Add appends r (in group g, 0 for all calls) and returns its ID. The
// rule is copied.
func (s *Set) Add(r *Rule, g uint64) int {
	c := *r
	c.ID = int(s.nextID.Add(1))
	c.Group = g
	if !c.HasSeed {
		c.Seed = s.seed
	}
	s.mu.Lock()
	old := s.cur.Load()
	n := &rules{list: append(slices.Clip(old.list), &ruleState{Rule: &c}), wants: old.wants}
	n.wants.or(&c.Syscalls)
	s.cur.Store(n)
	s.mu.Unlock()
	s.changed()
	return c.ID
}

// Del removes the rule with id; false when there is none.
func (s *Set) Del(id int) bool {
	n := s.remove(func(r *ruleState) bool { return r.ID == id })
	return n > 0
}

// DelGroup removes the rules of group g and returns how many there were.
func (s *Set) DelGroup(g uint64) int {
	return s.remove(func(r *ruleState) bool { return r.Group == g })
}

// Clear removes every rule and returns how many there were.
func (s *Set) Clear() int { return s.remove(func(*ruleState) bool { return true }) }

func (s *Set) remove(drop func(*ruleState) bool) int {
	defer s.changed()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	n := &rules{}
	gone := 0
	for _, r := range old.list {
		if drop(r) {
			gone++
			for k := range s.calls {
				if k.rule == r.ID {
					delete(s.calls, k)
				}
			}
			continue
		}
		n.list = append(n.list, r)
		n.wants.or(&r.Syscalls)
	}
	s.cur.Store(n)
	return gone
}

// RuleInfo describes a rule in a Set.
type RuleInfo struct {
	ID    int    `json:"id"`
	Rule  string `json:"rule"`
	Group uint64 `json:"group,omitempty"`
	Seed  uint64 `json:"seed"`
	Fired uint64 `json:"fired"`
}

// List returns the rules in order, with how often each has fired.
func (s *Set) List() []RuleInfo {
	cur := s.cur.Load()
	out := make([]RuleInfo, len(cur.list))
	for i, r := range cur.list {
		out[i] = RuleInfo{ID: r.ID, Rule: r.Text, Group: r.Group, Seed: r.Seed, Fired: r.fired.Load()}
	}
	return out
}

// Wants reports whether some rule names sys: a lane that gets false
// leaves the call alone without describing it. It takes no lock.
func (s *Set) Wants(sys Sys) bool {
	if s == nil {
		return false
	}
	cur := s.cur.Load()
	return cur.wants.Has(sys)
}

// WantsAny reports whether some rule names a syscall in m.
func (s *Set) WantsAny(m *Mask) bool {
	if s == nil {
		return false
	}
	return s.cur.Load().wants.intersects(m)
}

// MayFault reports whether a rule of group 0 names a syscall in m and has
// no path= or one that matches path: whether calls in m on that file may
// be faulted (when=, prob=, pid= and comm= aside). A lane that must do
// something first to be able to fault them (the FUSE door turns
// passthrough off for the file) asks it.
func (s *Set) MayFault(m *Mask, path string) bool {
	if s == nil {
		return false
	}
	for _, r := range s.cur.Load().list {
		if r.Group == 0 && r.Syscalls.intersects(m) && (r.path == nil || r.path.MatchString(path)) {
			return true
		}
	}
	return false
}

// Names returns the union of the syscalls the rules name.
func (s *Set) Names() Mask { return s.cur.Load().wants }

// Match counts c for every rule it matches and returns the fault of the
// first listed rule that fires.
func (s *Set) Match(c *Call) (Fault, bool) {
	cur := s.cur.Load()
	if !cur.wants.Has(c.Sys) && (c.Family == nil || !cur.wants.intersects(c.Family)) {
		return Fault{}, false
	}
	var comm string
	commRead := false
	var pos int64
	posRead := false
	var won *ruleState
	var draw uint64
	for _, r := range cur.list {
		if (!r.Syscalls.Has(c.Sys) && (c.Family == nil || !r.Syscalls.intersects(c.Family))) || (r.Group != 0 && r.Group != c.Group) {
			continue
		}
		if len(r.Pids) > 0 && !slices.Contains(r.Pids, c.Pid) {
			continue
		}
		if r.path != nil && !r.path.MatchString(c.Path) && (c.Path2 == "" || !r.path.MatchString(c.Path2)) {
			continue
		}
		if r.Comm != "" {
			if !commRead && c.Comm != nil {
				comm, commRead = c.Comm(), true
			}
			if comm != r.Comm {
				continue
			}
		}
		if r.ENOSPC >= 0 {
			if !posRead {
				pos, posRead = -1, true
				if c.Pos != nil {
					pos = c.Pos()
				}
			}
			// Only a write that reaches past the size is a matching
			// call: writes below it are not counted.
			if pos < 0 || pos+c.Len <= r.ENOSPC || c.Len == 0 {
				continue
			}
		}
		n := s.count(r.ID, c.Sys, c.Pid)
		if won != nil || !r.chosen(n) {
			continue
		}
		d := mix(r.Seed, uint64(r.ID)<<8|uint64(c.Sys), n)
		if r.Prob < 1 && float64(d>>11)/(1<<53) >= r.Prob {
			continue
		}
		if !r.take() {
			continue
		}
		won, draw = r, d
	}
	if won == nil {
		return Fault{}, false
	}
	r := won.Rule
	return Fault{
		Rule: r.ID, Errno: r.Errno, Retval: r.Retval, HasRetval: r.HasRetval, Signal: r.Signal,
		DelayEnter: r.DelayEnter, DelayExit: r.DelayExit, Short: r.Short, Corrupt: r.Corrupt,
		ENOSPC: r.ENOSPC, Rand: mix(draw, 0x9e3779b97f4a7c15, 1),
	}, true
}

// count returns the number of matching calls of syscall sys so far for
// rule id in process pid, this one included.
func (s *Set) count(id int, sys Sys, pid int) uint64 {
	s.mu.Lock()
	k := countKey{id, sys, pid}
	n := s.calls[k] + 1
	s.calls[k] = n
	s.mu.Unlock()
	return n
}

// chosen reports whether when= picks the n-th matching call.
func (r *Rule) chosen(n uint64) bool {
	if n < r.First || n > r.Last {
		return false
	}
	if r.Step == 0 {
		return n == r.First
	}
	return (n-r.First)%r.Step == 0
}

// take counts a fault, unless count= is reached.
func (r *ruleState) take() bool {
	for {
		f := r.fired.Load()
		if r.Count != 0 && f >= r.Count {
			return false
		}
		if r.fired.CompareAndSwap(f, f+1) {
			return true
		}
	}
}

// Forget drops the call counts of process pid (it has exited; its pid
// may be reused by a process that must count from 1).
func (s *Set) Forget(pid int) {
	s.mu.Lock()
	for k := range s.calls {
		if k.pid == pid {
			delete(s.calls, k)
		}
	}
	s.mu.Unlock()
}

// mix is a counter-based generator (splitmix64's finaliser over the
// inputs): the same inputs give the same draw in every run.
func mix(a, b, c uint64) uint64 {
	z := a ^ (b * 0xbf58476d1ce4e5b9) ^ (c * 0x94d049bb133111eb)
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Positions returns n distinct byte offsets below size drawn from rand,
// for corrupt=: the same fault flips the same bytes.
func Positions(rand uint64, n int, size int) []int {
	if size <= 0 || n <= 0 {
		return nil
	}
	n = min(n, size)
	out := make([]int, 0, n)
	seen := map[int]bool{}
	for i := uint64(0); len(out) < n; i++ {
		p := int(mix(rand, i, 7) % uint64(size))
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// RandomSeed is a seed for a set whose user gave none.
func RandomSeed() uint64 {
	var b [8]byte
	if _, err := unix.Getrandom(b[:], 0); err != nil {
		return uint64(time.Now().UnixNano())
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v & math.MaxInt64
}
