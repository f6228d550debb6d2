package supervisor

import (
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/internal/testutil"
)

type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Observe(ev event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// The observer sees each answered syscall with its path and result.
func TestObserver(t *testing.T) {
	b := testutil.StartBtfuse(t)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	sup, err := New(b.FS, Options{Mount: mount, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	s := &supervised{Btfuse: b, mount: mount, sup: sup}
	code, _, _ := s.run(t, []string{"sh", "-c", `echo hi > "$BTFUSE_MOUNT/obs"; cat "$BTFUSE_MOUNT/obs-missing"; true`})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var created, missing, exec bool
	for _, ev := range rec.events {
		if ev.Door != event.DoorRun || ev.Tid == 0 {
			t.Errorf("event %+v", ev)
		}
		// The thread group comes with the event when the supervisor
		// knew it (from the credentials it read, or from an execve by a
		// thread-group leader), so that the event mirror need not read
		// /proc for it.
		switch {
		case ev.Op == opOf(unix.SYS_EXECVE):
			exec = true
			if ev.Tgid != ev.Tid {
				t.Errorf("execve by the leader of a single-threaded process: tgid %d, tid %d", ev.Tgid, ev.Tid)
			}
		case strings.HasSuffix(ev.Path, "/obs") && ev.Outcome == event.Served && ev.Errno == 0:
			created = true
			if ev.Tgid == 0 {
				t.Errorf("served open without its thread group: %+v", ev)
			}
		case strings.HasSuffix(ev.Path, "/obs-missing") && ev.Outcome == event.Expected && ev.Errno == unix.ENOENT:
			missing = true
		}
	}
	if !created || !missing || !exec {
		t.Errorf("served open of obs seen: %v; ENOENT of obs-missing seen: %v; execve seen: %v; events: %+v", created, missing, exec, rec.events)
	}
}

// Under run, each syscall is reported under its own name, whether it was
// served or CONTINUEd (xattrs by path go to the FUSE door).
func TestObserverNamesSyscalls(t *testing.T) {
	testutil.RequireProgram(t, "setfattr")
	b := testutil.StartBtfuse(t)
	mount, err := control.Canonical(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	sup, err := New(b.FS, Options{Mount: mount, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	s := &supervised{Btfuse: b, mount: mount, sup: sup}
	code, _, errOut := s.run(t, []string{"sh", "-ec", `cd "$BTFUSE_MOUNT"
mkdir d; rmdir d; touch f; chmod 600 f; setfattr -n user.k -v v f; mv f g; rm g`})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := map[string]bool{}
	for _, ev := range rec.events {
		if ev.Op == event.OpSyscall {
			t.Errorf("event without a syscall name: %+v", ev)
		}
		seen[ev.Op.String()] = true
	}
	// Each step, by the syscalls that libc and coreutils may use for it.
	for _, alts := range [][]string{
		{"chdir"}, {"mkdir", "mkdirat"}, {"rmdir", "unlinkat"}, {"utimensat"},
		{"chmod", "fchmodat"}, {"setxattr", "lsetxattr"}, {"rename", "renameat", "renameat2"}, {"unlink", "unlinkat"},
	} {
		found := false
		for _, n := range alts {
			found = found || seen[n]
		}
		if !found {
			t.Errorf("none of %v reported; ops seen: %v", alts, seen)
		}
	}
}
