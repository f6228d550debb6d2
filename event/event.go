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
	Error                      // answered with an errno
	Injected                   // a fault injected on purpose
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{Served: "served", Passthrough: "passthrough", Error: "error", Injected: "injected"}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "outcome?"
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
}

// Observer receives every finished operation of a door. Observe must not
// block or allocate, and is called from many goroutines at once.
type Observer interface {
	Observe(Event)
}
