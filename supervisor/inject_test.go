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
		if (r.rule == notifyFD || r.rule == notifyData) && a.fd != 0 {
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
