package posixtest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Cred is an identity to run a case body as: real, effective, saved and
// filesystem ids, and supplementary groups.
type Cred struct {
	UID, GID uint32
	Groups   []uint32
}

// Identities used by the permission cases. None needs an /etc/passwd entry.
var (
	Alice = Cred{UID: 1000, GID: 1000, Groups: []uint32{1000, 3000}} // member of staff (3000)
	Bob   = Cred{UID: 1001, GID: 1001, Groups: []uint32{1001}}
	Carol = Cred{UID: 1002, GID: 3000, Groups: []uint32{3000}} // staff as primary group
)

// Staff is the group Alice has as a supplementary and Carol as primary group.
const Staff = 3000

// As runs fn as c: on a new goroutine locked to its OS thread, whose
// credentials (only that thread's) are switched with raw setgroups,
// setresgid and setresuid. Leaving uid 0 drops every capability, so fn runs
// as an ordinary user. The goroutine exits without unlocking, so the thread
// dies with its credentials. A failure or panic in fn is carried back to the
// caller's goroutine.
func (s *S) As(c Cred, fn func()) {
	s.Logf("as uid=%d gid=%d groups=%v {", c.UID, c.GID, c.Groups)
	defer s.Logf("}")
	asCred(c, fn)
}

// asCred runs fn on a new locked OS thread switched to c and lets that
// thread die afterwards; see S.As.
func asCred(c Cred, fn func()) {
	done := make(chan any, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with its credentials
		defer func() { done <- recover() }()
		if e := setThreadCred(c); e != 0 {
			panic(fmt.Sprintf("switch thread to uid %d: %v", c.UID, e))
		}
		fn()
	}()
	p := <-done
	unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
	if p != nil {
		panic(p)
	}
}
