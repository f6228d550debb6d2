package supervisor

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSlotChoice runs acquire against this process's own descriptor
// table, with descriptors dup2()ed into a range far above the ones in use
// standing for the target's own.
func TestSlotChoice(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	// A range far above the descriptors the test process has open, under
	// its soft limit (which the Go runtime raised to the hard one).
	base, size := 4000, 8
	if int(rl.Cur) < base+size {
		base = int(rl.Cur) - size
	}
	if base < 256 {
		t.Fatalf("soft RLIMIT_NOFILE %d leaves no room for the test's range", rl.Cur)
	}
	ref, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ref)
	self := unix.Getpid()
	own := func(t *testing.T, fd int) {
		if err := unix.Dup3(ref, fd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
	}
	for _, tc := range []struct {
		name   string
		own    []int // the process's own descriptors in the range
		served []int // slots installed before, in this order
		// inherited are the process's own descriptors that hold a served
		// file (from its parent's range)
		inherited []int
		want      []int // successive acquires
		crowd     bool
	}{
		{name: "top down", want: []int{base + 7, base + 6, base + 5, base + 4, -1}},
		{name: "served skipped", served: []int{base + 7, base + 5}, want: []int{base + 6, base + 4, -1}},
		{name: "own at the bottom", own: []int{base}, want: []int{-1, -1}, crowd: true},
		{name: "inherited at the top", inherited: []int{base + 7}, want: []int{base + 6, base + 5, base + 4, -1}},
		{name: "own at the top", own: []int{base + 7}, want: []int{-1, -1}, crowd: true},
		// Never passed on the way down, base+3 is not seen: the margin
		// under base+4 counts it free (the residual slotTable states).
		{name: "own in the middle", own: []int{base + 3}, want: []int{base + 7, base + 6, base + 5, base + 4, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, fd := range append(tc.own, tc.inherited...) {
				own(t, fd)
			}
			served := func(fd int) bool { return slices.Contains(tc.inherited, fd) }
			var st slotTable
			st.init()
			st.procs[self] = &procSlots{pending: map[int]bool{}, served: map[int]bool{}}
			for _, fd := range tc.served {
				own(t, fd)
				st.procs[self].served[fd] = true
			}
			for i, want := range tc.want {
				got := st.acquire(self, self, self, base, size, ref, served)
				if got != want {
					t.Fatalf("acquire %d: slot %d, want %d", i, got, want)
				}
				if got >= 0 {
					own(t, got)
					st.release(self, got, true)
				}
			}
			if st.procs[self].crowded != tc.crowd {
				t.Errorf("crowded %v, want %v", st.procs[self].crowded, tc.crowd)
			}
			if tc.crowd {
				return
			}
			// Closed and dropped, a served slot is chosen again.
			top := base + size - 1
			if st.procs[self].served[top] {
				unix.Close(top)
				st.drop(self, top)
				if got := st.acquire(self, self, self, base, size, ref, served); got != top {
					t.Errorf("after the top slot was closed and dropped: slot %d, want %d", got, top)
				}
			}
		})
	}
}
