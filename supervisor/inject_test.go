package supervisor

import (
	"testing"

	"github.com/btfuse/btfuse/faults"
)

// Every syscall a fault rule can name has a row here (so the seccomp lane
// can fault it), and every row that names a path or a descriptor says
// where, for the matcher.
func TestFaultRowsCovered(t *testing.T) {
	var all faults.Mask
	for i := 0; i < faults.MaxSyscalls; i++ {
		if faults.Sys(i).Name() != "?" {
			all.Add(faults.Sys(i))
		}
	}
	rows := map[string]*sysRow{}
	for i := range sysRows {
		rows[sysRows[i].name] = &sysRows[i]
	}
	for _, name := range all.Syscalls() {
		r := rows[name]
		if r == nil {
			t.Errorf("rules can name %s, which the filter never notifies", name)
			continue
		}
		if r.fsys != faults.SyscallID(name) {
			t.Errorf("row %s: fault id %d", name, r.fsys)
		}
		a := r.args
		if r.rule != notifyCred && a.fd < 0 && a.path[0] < 0 {
			t.Errorf("row %s: no path or descriptor for the matcher", name)
		}
		if (r.rule == notifyFD || r.rule == notifyAnyFD || r.rule == notifyData) && a.fd != 0 {
			t.Errorf("descriptor row %s: fd argument %d", name, a.fd)
		}
	}
}

// isWrite and isRead name exactly the families faults applies short=,
// corrupt= and enospc= to.
func TestFaultDataFamilies(t *testing.T) {
	for _, r := range sysRows {
		rw, err := faults.Parse(r.name + ":short=1")
		if (err == nil) != (isRead(r.nr) || isWrite(r.nr)) {
			t.Errorf("%s: short= accepted %v, isRead %v, isWrite %v", r.name, err == nil, isRead(r.nr), isWrite(r.nr))
		}
		_ = rw
		_, err = faults.Parse(r.name + ":enospc=1")
		if (err == nil) != isWrite(r.nr) {
			t.Errorf("%s: enospc= accepted %v, isWrite %v", r.name, err == nil, isWrite(r.nr))
		}
	}
}

// A receiver that sleeps in a delay is replaced by a spare while it
// sleeps, and once it is back one receiver retires per spare, so the
// listener keeps its number of receivers. (The first version counted the
// spare nowhere: spares never retired, and a later sleeper saw too few
// receivers awake.)
func TestSpareReceivers(t *testing.T) {
	l := &listener{}
	l.avail.Store(2)
	if !l.sleepBegin(2) || !l.sleepBegin(2) {
		t.Fatalf("a sleeper got no spare")
	}
	if n := l.avail.Load(); n != 2 {
		t.Errorf("%d awake with two sleepers and two spares, want 2", n)
	}
	l.sleepEnd()
	l.sleepEnd()
	retired := 0
	for l.retire(2) {
		retired++
	}
	if retired != 2 || l.avail.Load() != 2 || l.spares.Load() != 0 {
		t.Errorf("%d retired, %d awake, %d spares; want 2, 2, 0", retired, l.avail.Load(), l.spares.Load())
	}
	// The spares are bounded.
	l.avail.Store(1)
	n := 0
	for i := 0; i < 2*maxSpares; i++ {
		if l.sleepBegin(1) {
			n++
		}
	}
	if n != maxSpares {
		t.Errorf("%d spares started, want %d", n, maxSpares)
	}
}
