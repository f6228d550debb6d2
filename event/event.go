package event

import (
	"time"

	"golang.org/x/sys/unix"
)

// Door is the way an operation came in.
type Door uint8

const (
	DoorFUSE Door = iota // the FUSE mount
	DoorRun              // a process supervised by 'btfuse run', over seccomp
	DoorFast             // a process supervised by 'btfuse run', answered by the fast lane
	NumDoors
)

var doorNames = [NumDoors]string{DoorFUSE: "fuse", DoorRun: "run", DoorFast: "fast"}

func (d Door) String() string {
	if d < NumDoors {
		return doorNames[d]
	}
	return "door?"
}

// Outcome is how an operation was answered.
type Outcome uint8

const (
	Served      Outcome = iota // answered by btfuse, successfully
	Passthrough                // handed to the kernel (seccomp CONTINUE)
	Error                      // answered with an errno that is a failure
	Injected                   // a fault injected on purpose
	// Expected is an errno that answers a question the caller asked
	// (ENOENT to a lookup, ENODATA to a getxattr, EEXIST to an exclusive
	// create): correct and routine, not a failure. See Classify.
	Expected
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{Served: "served", Passthrough: "passthrough", Error: "error", Injected: "injected", Expected: "expected"}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "outcome?"
}

// FaultKind is what an injected fault did (for Injected events).
type FaultKind uint8

const (
	FaultNone    FaultKind = iota
	FaultError             // error=: the call returned an errno instead of running
	FaultRetval            // retval=: the call returned a value instead of running
	FaultSignal            // signal= only: the call ran, then a signal was sent
	FaultDelay             // a delay only: the call ran late
	FaultShort             // short=: fewer bytes moved than asked
	FaultCorrupt           // corrupt=: bytes of the data moved were flipped
	FaultENOSPC            // enospc=: a write stopped at the size limit
	NumFaultKinds
)

var faultNames = [NumFaultKinds]string{FaultNone: "", FaultError: "error", FaultRetval: "retval", FaultSignal: "signal",
	FaultDelay: "delay", FaultShort: "short", FaultCorrupt: "corrupt", FaultENOSPC: "enospc"}

func (k FaultKind) String() string {
	if k < NumFaultKinds {
		return faultNames[k]
	}
	return "fault?"
}

// Event is one finished operation, as a door reports it.
type Event struct {
	Op      Op
	Door    Door
	Outcome Outcome
	// Tgid may be 0 when the door knows only the thread (FUSE requests
	// and seccomp notifications carry the caller's tid): the daemon fills
	// it in from a TID cache before the event reaches the ring, and a
	// reader that still finds 0 may resolve it from /proc.
	Tgid, Tid int32
	Errno     unix.Errno
	Latency   time.Duration
	Ino       uint64 // 0 when the op names no inode
	// Path is the path or name the operation was about ("" if none); a
	// transport may keep only its tail (shmring.PathMax bytes).
	Path string
	// Dir, when set, is the directory Path is in: the full path is
	// Dir + "/" + Path, joined by whoever copies it (so that a door that
	// knows a name and its directory's path need not build the string).
	Dir string
	// Rule, Fault and FaultValue describe an Injected event: the id of the
	// rule that fired, what it did, and a value (bytes moved for short=
	// and enospc=, bytes flipped for corrupt=, the value for retval=, the
	// signal for signal=).
	Rule       uint16
	Fault      FaultKind
	FaultValue int64
}

// Observer receives every finished operation of a door. Observe must not
// block or allocate, and is called from many goroutines at once.
type Observer interface {
	Observe(Event)
}

// Counter is an Observer that also takes counts of answers that came
// without events: a lane that answers in the caller's process (the fast
// lane's metadata view) counts there, and its daemon adds the counts up.
// They count as answers of no latency and leave nothing in the ring.
type Counter interface {
	Count(op Op, door Door, outcome Outcome, n uint64)
}
