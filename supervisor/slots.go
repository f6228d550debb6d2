package supervisor

import (
	"sync"

	"golang.org/x/sys/unix"
)

// slotTable hands out descriptor numbers in the reserved range of each
// target process. The kernel's own table is the truth: a slot is free when
// kcmp(KCMP_FILE) says the target has nothing open there, so closes need no
// notification. pending keeps two receiver threads from picking the same
// slot of one process between the probe and the ADDFD.
type slotTable struct {
	mu    sync.Mutex
	procs map[int]*procSlots // by TGID; guarded by mu
}

type procSlots struct {
	cursor  int
	pending map[int]bool
}

func (t *slotTable) init() { t.procs = make(map[int]*procSlots) }

// maxProcs bounds the table; idle entries are dropped past it.
const maxProcs = 4096

// acquire picks a free slot in [base, base+size) of the process of thread
// tid (whose TGID is tgid), probing with kcmp against ref, a descriptor of
// this process (self) that is surely open. It returns -1 when the range is full.
// The caller must call release(slot) after installing.
func (t *slotTable) acquire(tgid, tid, self, base, size, ref int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[tgid]
	if p == nil {
		if len(t.procs) >= maxProcs {
			for k, v := range t.procs {
				if len(v.pending) == 0 {
					delete(t.procs, k)
				}
			}
		}
		p = &procSlots{pending: make(map[int]bool)}
		t.procs[tgid] = p
	}
	for i := 0; i < size; i++ {
		slot := base + (p.cursor+i)%size
		if p.pending[slot] {
			continue
		}
		if !slotFree(tid, self, slot, ref) {
			continue
		}
		p.pending[slot] = true
		p.cursor = (slot - base + 1) % size
		return slot
	}
	return -1
}

func (t *slotTable) release(tgid, slot int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[tgid]; p != nil {
		delete(p.pending, slot)
	}
}

// slotFree reports whether descriptor slot of thread tid is unused.
func slotFree(tid, self, slot, ref int) bool {
	_, e := kcmpFile(tid, self, slot, ref)
	switch e {
	case unix.EBADF:
		return true
	case 0:
		return false
	}
	// No kcmp (CONFIG_KCMP off) or no permission: ask /proc.
	var st unix.Stat_t
	return unix.Lstat(procPath(tid, "fd/"+itoa(slot)), &st) == unix.ENOENT
}
