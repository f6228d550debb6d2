package supervisor

import (
	"os"
	"testing"

	"github.com/btfuse/btfuse/internal/procfs"
	"github.com/btfuse/btfuse/internal/testthread"
)

func cached(cc *credCache, tid int) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.entries[tid] != nil
}

// TestCredCacheExec: a leader's execve keeps its own credentials out of
// the cache until it notifies again, and nobody else's; another thread's
// execve (which takes the leader's TID) quiets the whole cache.
func TestCredCacheExec(t *testing.T) {
	leader, other := os.Getpid(), testthread.Other(t)
	var cc credCache
	defer cc.close()
	cc.leads = func(tid int) bool { return tid == leader }
	get := func(tid int) {
		t.Helper()
		if _, e := cc.get(tid); e != 0 {
			t.Fatalf("credentials of %d: %v", tid, e)
		}
	}
	get(leader)
	get(other)
	gen := cc.gen.Load()
	cc.execChanged(leader)
	if cc.gen.Load() == gen {
		t.Error("an exec left the cache's generation as it was")
	}
	get(other)
	if !cached(&cc, other) {
		t.Error("another thread's credentials are not cached after a leader's exec")
	}
	get(leader)
	if cached(&cc, leader) {
		t.Error("the exec'ing leader's credentials were cached before it notified again")
	}
	cc.seen(leader)
	get(leader)
	if !cached(&cc, leader) {
		t.Error("the leader's credentials are not cached after its next notification")
	}

	// A leader that never notifies again (it exited) is forgotten with
	// its window, and notifications stop taking the lock for it.
	cc.execChanged(leader)
	cc.mu.Lock()
	cc.execing[leader] = monoNow() - 1
	cc.mu.Unlock()
	cc.seen(other)
	if n := cc.execers.Load(); n != 0 {
		t.Errorf("%d exec'ing threads left after their window ended", n)
	}

	cc.execChanged(other)
	get(leader)
	get(other)
	if cached(&cc, leader) || cached(&cc, other) {
		t.Error("credentials cached in the quiet window of an exec by a thread that does not lead")
	}
}

// TestExecChangeTellsTgids: an execve by a thread that leads its group
// puts it in the thread-group cache as its own group, so that the new
// program's events need no look-up; another thread's is not put there
// (exec gives it the leader's TID).
func TestExecChangeTellsTgids(t *testing.T) {
	const leader, other = 1 << 29, 1<<29 + 1
	s := &Supervisor{tgids: procfs.NewTgidCache()}
	defer s.creds.close()
	s.creds.leads = func(tid int) bool { return tid == leader }
	for _, tid := range []int{leader, other} {
		c := &call{s: s, tid: tid}
		if r := execChange(c); !r.cont {
			t.Errorf("execve of %d: %+v, want CONTINUE", tid, r)
		}
	}
	if tgid, ok := s.tgids.Peek(leader); !ok || tgid != leader {
		t.Errorf("cache after the leader's exec: %d, %v; want %d", tgid, ok, leader)
	}
	if tgid, ok := s.tgids.Peek(other); ok {
		t.Errorf("cache after another thread's exec: %d, want nothing", tgid)
	}
}
