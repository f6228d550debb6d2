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
//
// A served descriptor must never replace one the target owns. ADDFD with
// SETFD installs the way dup2 does (fs/file.c:replace_fd()): what the
// target has open at that number is closed, and its thread then reads and
// writes the served file through it. The probe and the install are apart
// in time, and another thread of the target can allocate in between, so
// the rules keep native descriptors away from the slots chosen:
//
//   - Native allocation takes the lowest free number (alloc_fd()): it
//     reaches the range only after [0, base) is full, and then fills the
//     range from the bottom. Slots are chosen from the top down, the
//     highest free first, so served and native descriptors approach each
//     other from opposite ends.
//   - A process is crowded once a probe finds a descriptor of its own in
//     its range: at the bottom slot, probed on every acquire because
//     native allocations arrive there first, or at any slot passed on the
//     way down that holds no served file. (A served file there that this
//     table did not install was inherited, from a parent's range: the
//     slot is skipped as served.) A crowded process gets no slot again; its
//     files are installed at the lowest free number (ADDFD without SETFD),
//     which replaces nothing. The cost: where that number lies under the
//     range, fstat, fchmod and the other descriptor calls on it run
//     natively on the backing file, as when the range is full. Crowded
//     lasts as long as the table's entry for the TGID.
//   - A slot is chosen only when at least half the range under it is
//     neither served nor pending: at most half of the range holds served
//     descriptors, the rest is a margin native allocations must cross.
//
// What is left: for a lowest-free allocation to land on the chosen slot,
// every number under it must be in use at that moment. At the probe the
// bottom slot was free and at least size/2 slots under the chosen one
// were neither served nor pending, so the target's other threads must make more than
// size/2 allocations (128 in a range of 256) between the probe and the
// install, which lasts one ADDFD. Where the table's knowledge is short of
// the kernel's, the margin shrinks: a process that filled the range
// natively and then freed only its bottom before its first served open,
// or descriptors the target put in the middle of the range by number.
// Explicit numbers stay the target's choice: dup2, dup3 and F_DUPFD with
// a minimum in the range are not notified, and one that names the chosen
// slot between the probe and the install is replaced. A process whose
// descriptor table no other task shares cannot race at all: its only
// thread is waiting in the open being served.
//
// Lock order: servedWatch.mu before slotTable.mu.
type slotTable struct {
	mu    sync.Mutex
	procs map[int]*procSlots // by TGID; guarded by mu
}

type procSlots struct {
	// pending slots are being installed; served ones hold a served file
	// (installed here, or inherited), until the watch sees it closed
	// (drop). A served entry may outlive its descriptor (an inherited one,
	// a file the watch could not hold): it then only keeps the slot from
	// being chosen, which is safe.
	pending map[int]bool
	served  map[int]bool
	crowded bool
}

func (t *slotTable) init() { t.procs = make(map[int]*procSlots) }

// maxProcs bounds the table; idle entries are dropped past it. A dropped
// process forgets its served slots: the next probe that meets one of
// them takes it for the process's own, which is safe (crowded).
const maxProcs = 4096

// acquire picks a free slot in [base, base+size) of the process of thread
// tid (whose TGID is tgid), probing with kcmp against ref, a descriptor of
// this process (self) that is surely open; served reports whether a
// descriptor of tid holds a served file. It returns -1 when the process
// gets no slot: crowded, or its range is too full (see slotTable). The
// caller must call release after installing.
func (t *slotTable) acquire(tgid, tid, self, base, size, ref int, served func(fd int) bool) int {
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
		p = &procSlots{pending: make(map[int]bool), served: make(map[int]bool)}
		t.procs[tgid] = p
	}
	if p.crowded {
		return -1
	}
	// base itself is never chosen (it has no margin under it).
	if !slotFree(tid, self, base, ref) {
		p.crowded = true
		return -1
	}
	for slot := base + size - 1; slot > base; slot-- {
		if p.pending[slot] || p.served[slot] {
			continue
		}
		if slot-base-p.takenUnder(base, slot) < size/2 {
			return -1
		}
		if !slotFree(tid, self, slot, ref) {
			if served(slot) {
				p.served[slot] = true
				continue
			}
			p.crowded = true
			return -1
		}
		p.pending[slot] = true
		return slot
	}
	return -1
}

// takenUnder counts the served and pending slots in [base, slot).
func (p *procSlots) takenUnder(base, slot int) int {
	n := 0
	for s := range p.pending {
		if s >= base && s < slot {
			n++
		}
	}
	for s := range p.served {
		if s >= base && s < slot {
			n++
		}
	}
	return n
}

// release ends the install at slot; installed says the target now holds
// the file there.
func (t *slotTable) release(tgid, slot int, installed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[tgid]; p != nil {
		delete(p.pending, slot)
		if installed {
			p.served[slot] = true
		}
	}
}

// drop forgets that fd of process tgid is served: the watch saw it closed.
func (t *slotTable) drop(tgid, fd int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.procs[tgid]; p != nil {
		delete(p.served, fd)
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
