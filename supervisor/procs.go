package supervisor

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// procsMu serialises addProcs and guards what it counts.
var procsMu sync.Mutex

// procsServing counts the listeners served (addProcs), procsAdded the Ps
// added for them: one each, but never more than the machine's CPUs, so
// that a daemon serving many 'btfuse run' commands does not size its
// garbage collector's workers (a quarter of GOMAXPROCS) by them.
var procsServing, procsAdded int

// How a receiver waits for the next notification.
//
// An ordinary blocking syscall hands the thread's P to the Go scheduler's
// care: a receiver never passes through the scheduler between its
// syscalls, so every 10 ms the runtime's monitor thread (sysmon) sees it
// as one long-running goroutine and takes its P away while it waits in
// RECV; with nothing else to do, sysmon then sleeps until the receiver
// leaves a syscall without its P, which wakes it and makes it poll every
// 20 us again (the runtime's bet that more syscalls will need their Ps
// taken), each poll a context switch, often on a CPU that was idle, and
// the receiver's own return is a wake-up of sysmon on the target's CPU
// before the target runs on. On a machine where a process runs a few ms,
// that is continuous.
//
// So after a notification, while notifications come, the receiver waits
// for the next one keeping its P (a raw poll(2) of the listener, then the
// RECV that poll says will not wait): sysmon never finds every P idle,
// never deep-sleeps and is never woken, and its own period grows to 10
// ms. A signal ends such a wait with EINTR (sysmon's preemption of the
// goroutine after 10 ms, a stop of the world for the garbage collector,
// the listener's stop), and the next wait is the ordinary blocking RECV,
// which gives the P up at once when the world stops: so an idle listener
// holds no P, and the collector is never held up longer than one signal.
// (Not a raw RECV: the kernel restarts RECV after the runtime's
// SA_RESTART signal handlers, so nothing would end it but a
// notification; TestStopTheWorldWhileReceiverWaits hung so.)
//
// The poll is one syscall more per notification, which a program that
// makes them back to back (find: a few us apart) pays without gain: its
// receiver is rarely waiting when sysmon looks. So a receiver holds its P
// only while its recent waits were long (waitAverage).
//
// Each listener has one receiver waiting at a time (the turn), so
// ServeWith raises GOMAXPROCS by one for as long as it serves: a waiting
// receiver's P is not taken from the goroutines that serve the FUSE door
// and the other listeners.
//
// Without asynchronous preemption (GODEBUG=asyncpreemptoff=1) the runtime
// sends no signal to a goroutine it must stop, and a receiver waiting with
// its P would hold up every stop of the world until the next notification:
// then every wait is the ordinary one (holdP false).
//
// addProcs counts d more listeners served (ServeWith: +1 while it
// serves) and adds a P for each, up to the number of CPUs.
func addProcs(d int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	procsServing += d
	want := min(procsServing, runtime.NumCPU())
	if want != procsAdded {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + want - procsAdded)
		procsAdded = want
	}
}

// holdP: a receiver may wait in RECV keeping its P.
var holdP = !strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1")

// holdAfter is the average wait from which a receiver holds its P: about
// two of sysmon's shortest periods (20 us; more on a loaded machine), so
// that a program making notified calls back to back keeps the cheaper
// ordinary wait.
const holdAfter = 50 * time.Microsecond

// waitAverage is a receiver's moving average of how long it waited for
// each notification (weight 1/4 to the newest).
type waitAverage struct{ avg time.Duration }

// next adds one wait and reports whether the next wait should hold the P.
func (w *waitAverage) next(d time.Duration) bool {
	w.avg += (d - w.avg) / 4
	return holdP && w.avg >= holdAfter
}
