package faults

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func mustSet(t testing.TB, seed uint64, rules ...string) *Set {
	t.Helper()
	s := NewSet(seed)
	for _, text := range rules {
		r, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(r, 0)
	}
	return s
}

// fires runs n calls of c through s and returns the 1-based numbers of
// those that got a fault, and the rule of each.
func fires(s *Set, c Call, n int) (nums []int, rules []int) {
	for i := 1; i <= n; i++ {
		if f, ok := s.Match(&c); ok {
			nums = append(nums, i)
			rules = append(rules, f.Rule)
		}
	}
	return
}

func TestMatchWhen(t *testing.T) {
	for _, tc := range []struct {
		when string
		want []int
	}{
		{"", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{":when=3", []int{3}},
		{":when=3+", []int{3, 4, 5, 6, 7, 8, 9, 10}},
		{":when=3+3", []int{3, 6, 9}},
		{":when=2..4", []int{2, 3, 4}},
		{":when=2..8+3", []int{2, 5, 8}},
	} {
		t.Run(tc.when, func(t *testing.T) {
			s := mustSet(t, 1, "write:error=EIO"+tc.when)
			got, _ := fires(s, Call{Sys: SyscallID("write"), Pid: 10}, 10)
			if !slices.Equal(got, tc.want) {
				t.Errorf("fired at %v, want %v", got, tc.want)
			}
		})
	}
}

// when= counts per process: a second process starts at 1.
func TestMatchPerProcess(t *testing.T) {
	s := mustSet(t, 1, "write:error=EIO:when=2")
	w := SyscallID("write")
	a1, _ := s.Match(&Call{Sys: w, Pid: 1})
	b1, _ := s.Match(&Call{Sys: w, Pid: 2})
	_, a2 := s.Match(&Call{Sys: w, Pid: 1})
	_, b2 := s.Match(&Call{Sys: w, Pid: 2})
	if a1.Rule != 0 || b1.Rule != 0 || !a2 || !b2 {
		t.Errorf("second call of each process should fire, got %v %v", a2, b2)
	}
	s.Forget(1)
	if _, ok := s.Match(&Call{Sys: w, Pid: 1}); ok {
		t.Errorf("after Forget, process 1 counts from 1 again")
	}
}

// The first listed rule that fires wins, and every rule counts the calls
// it matches whether or not it won.
func TestMatchOrder(t *testing.T) {
	s := mustSet(t, 1, "write:error=EIO:when=2", "write:error=EPERM")
	var got []unix.Errno
	for range 3 {
		f, _ := s.Match(&Call{Sys: SyscallID("write"), Pid: 1})
		got = append(got, f.Errno)
	}
	if want := []unix.Errno{unix.EPERM, unix.EIO, unix.EPERM}; !slices.Equal(got, want) {
		t.Errorf("errnos %v, want %v", got, want)
	}
	s = mustSet(t, 1, "write:error=EPERM", "write:error=EIO:when=2")
	f1, _ := s.Match(&Call{Sys: SyscallID("write"), Pid: 1})
	f2, _ := s.Match(&Call{Sys: SyscallID("write"), Pid: 1})
	if f1.Errno != unix.EPERM || f2.Errno != unix.EPERM {
		t.Errorf("first rule always fires and wins: %v %v", f1.Errno, f2.Errno)
	}
	if l := s.List(); l[0].Fired != 2 || l[1].Fired != 0 {
		t.Errorf("fired counts %+v", l)
	}
}

func TestMatchScope(t *testing.T) {
	comm := func(s string) func() string { return func() string { return s } }
	for _, tc := range []struct {
		rule string
		call Call
		want bool
	}{
		{"write:error=EIO:path=*/123.txt", Call{Path: "/tmp/d/123.txt"}, true},
		{"write:error=EIO:path=*/123.txt", Call{Path: "/tmp/d/124.txt"}, false},
		{"write:error=EIO:path=/tmp/**", Call{Path: "/tmp/d/e/f"}, true},
		{"write:error=EIO:path=/tmp/*", Call{Path: ""}, false},
		{"write:error=EIO:pid=5,6", Call{Pid: 6}, true},
		{"write:error=EIO:pid=5,6", Call{Pid: 7}, false},
		{"write:error=EIO:comm=sh", Call{Comm: comm("sh")}, true},
		{"write:error=EIO:comm=sh", Call{Comm: comm("bash")}, false},
		{"write:error=EIO:comm=sh", Call{}, false},
		{"open:error=EIO", Call{}, false}, // another syscall
	} {
		t.Run(tc.rule, func(t *testing.T) {
			s := mustSet(t, 1, tc.rule)
			tc.call.Sys = SyscallID("write")
			if _, got := s.Match(&tc.call); got != tc.want {
				t.Errorf("fired %v, want %v", got, tc.want)
			}
		})
	}
	// rename's second path.
	s := mustSet(t, 1, "rename:error=EXDEV:path=/b")
	if _, ok := s.Match(&Call{Sys: SyscallID("rename"), Path: "/a", Path2: "/b"}); !ok {
		t.Errorf("second path not matched")
	}
}

func TestMatchGroup(t *testing.T) {
	s := NewSet(1)
	r, _ := Parse("write:error=EIO")
	s.Add(r, 7)
	w := SyscallID("write")
	if _, ok := s.Match(&Call{Sys: w, Group: 8}); ok {
		t.Errorf("a rule of group 7 fired for group 8")
	}
	if _, ok := s.Match(&Call{Sys: w, Group: 7}); !ok {
		t.Errorf("a rule of group 7 did not fire for group 7")
	}
	if n := s.DelGroup(7); n != 1 || s.Wants(w) {
		t.Errorf("DelGroup removed %d, Wants %v", n, s.Wants(w))
	}
}

func TestMatchCount(t *testing.T) {
	s := mustSet(t, 1, "write:error=EIO:count=3")
	got, _ := fires(s, Call{Sys: SyscallID("write"), Pid: 1}, 10)
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("fired at %v, want the first 3", got)
	}
}

// prob= with the same seed picks the same calls; another seed others; the
// share is near the probability.
func TestMatchProbSeed(t *testing.T) {
	run := func(seed uint64) []int {
		s := mustSet(t, seed, "write:error=EIO:prob=0.3")
		got, _ := fires(s, Call{Sys: SyscallID("write"), Pid: 99}, 2000)
		return got
	}
	a, b, c := run(42), run(42), run(43)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different calls")
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 chose the same calls")
	}
	if len(a) < 500 || len(a) > 700 {
		t.Errorf("%d of 2000 fired with prob 0.3", len(a))
	}
	// The pid does not enter the draw: another process with the same
	// history gets the same faults.
	s := mustSet(t, 42, "write:error=EIO:prob=0.3")
	d, _ := fires(s, Call{Sys: SyscallID("write"), Pid: 5}, 2000)
	if !slices.Equal(a, d) {
		t.Errorf("pid changed the draws")
	}
	// seed= in the rule overrides the set's.
	s = mustSet(t, 1, "write:error=EIO:prob=0.3:seed=42")
	e, _ := fires(s, Call{Sys: SyscallID("write"), Pid: 5}, 2000)
	if !slices.Equal(a, e) {
		t.Errorf("seed= in the rule not used")
	}
}

func TestMatchENOSPC(t *testing.T) {
	s := mustSet(t, 1, "write:enospc=100:count=2")
	w := SyscallID("write")
	at := func(pos, n int64) bool {
		_, ok := s.Match(&Call{Sys: w, Pid: 1, Len: n, Pos: func() int64 { return pos }})
		return ok
	}
	if at(0, 100) || at(50, 50) {
		t.Errorf("a write ending at the size fired")
	}
	if !at(90, 20) || !at(100, 1) {
		t.Errorf("a write past the size did not fire")
	}
	if at(200, 1) {
		t.Errorf("count=2 exceeded")
	}
}

func TestMatchConcurrent(t *testing.T) {
	s := mustSet(t, 1, "write:error=EIO:count=100")
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _ := fires(s, Call{Sys: SyscallID("write"), Pid: p}, 1000)
			mu.Lock()
			total += len(got)
			mu.Unlock()
		}()
	}
	for range 10 {
		r, _ := Parse("read:error=EIO")
		id := s.Add(r, 0)
		s.Del(id)
	}
	wg.Wait()
	if total != 100 {
		t.Errorf("%d faults, want count=100", total)
	}
}

func TestPositions(t *testing.T) {
	p := Positions(5, 3, 10)
	if len(p) != 3 || !slices.Equal(p, Positions(5, 3, 10)) {
		t.Errorf("positions %v", p)
	}
	if len(Positions(5, 20, 4)) != 4 {
		t.Errorf("more positions than bytes")
	}
}

func TestDescribe(t *testing.T) {
	f := Fault{Errno: unix.EPERM, Signal: unix.SIGUSR1, ENOSPC: -1}
	if got := f.Describe(); got != "error=EPERM:signal=SIGUSR1" {
		t.Errorf("%q", got)
	}
}

// when= counts each syscall of a rule apart, as strace does: the second
// openat and the second mkdir fire, not the second call of either.
func TestMatchPerSyscall(t *testing.T) {
	s := mustSet(t, 1, "openat,mkdir:error=EPERM:when=2")
	o, m := SyscallID("openat"), SyscallID("mkdir")
	var got []bool
	for _, sys := range []Sys{o, m, o, m, o} {
		_, ok := s.Match(&Call{Sys: sys, Pid: 1})
		got = append(got, ok)
	}
	if want := []bool{false, false, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
}

// TestOnChange: watchers hear of every change of the list, after it, and
// ForAll says whether a rule of group 0 is among the rules.
func TestOnChange(t *testing.T) {
	s := NewSet(1)
	var seen []bool
	stop := s.OnChange(func() { seen = append(seen, s.ForAll()) })
	r, err := Parse("openat:error=EIO")
	if err != nil {
		t.Fatal(err)
	}
	g := s.Add(r, s.NewGroup()) // one command's rule
	id := s.Add(r, 0)
	s.Del(id)
	s.Del(id) // nothing removed: no change
	s.Add(r, 0)
	s.Clear()
	want := []bool{false, true, false, true, false}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("ForAll at each change: %v, want %v (group rule %d)", seen, want, g)
	}
	stop()
	s.Add(r, 0)
	if len(seen) != len(want) {
		t.Errorf("a stopped watcher was told")
	}
	var nilSet *Set
	nilSet.OnChange(func() {})()
	if nilSet.ForAll() {
		t.Error("a nil set has rules")
	}
}
