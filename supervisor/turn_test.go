package supervisor

import (
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestListener(t testing.TB) *listener {
	l := &listener{done: make(chan struct{}), turn: make(chan struct{}, 1)}
	if err := l.startWatchdog(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.stopWatchdog)
	return l
}

// A short ADDFD keeps the receive turn: nothing is handed over.
func TestTurnKeptThroughShortWait(t *testing.T) {
	l := newTestListener(t)
	c := &call{l: l, turn: true}
	for i := 0; i < 1000; i++ {
		c.waitBegin()
		c.waitEnd()
		if !c.turn {
			t.Fatalf("wait %d lost the turn", i)
		}
	}
	select {
	case <-l.turn:
		t.Fatal("a token was handed over while its holder kept the turn")
	default:
	}
}

// An ADDFD whose target does not run (stopped, traced) must not hold the
// other targets up: the watchdog hands the turn to another thread, and the
// waiting thread learns it lost the turn when its ADDFD ends.
func TestTurnTakenFromStuckWait(t *testing.T) {
	l := newTestListener(t)
	c := &call{l: l, turn: true}
	c.waitBegin()
	select {
	case <-l.turn:
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not pass the turn on from a stuck ADDFD")
	}
	c.waitEnd()
	if c.turn {
		t.Fatal("the stuck thread still believes it holds the turn")
	}
	// The watchdog sleeps once the wait is over, and wakes for the next.
	n := l.alarms.Load()
	time.Sleep(5 * addfdPatience)
	if got := l.alarms.Load(); got != n {
		t.Fatalf("the watchdog woke %d times with no wait under way", got-n)
	}
	c.turn = true
	c.waitBegin()
	select {
	case <-l.turn:
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not wake for a second stuck ADDFD")
	}
	c.waitEnd()
}

// Back-to-back short waits set the alarm about once per patience, not
// once or twice per wait (a timerfd_settime each, on every fast-lane
// request and mutation); once they stop, the watchdog stops.
func TestWatchdogArmsOncePerPatience(t *testing.T) {
	l := newTestListener(t)
	c := &call{l: l, turn: true}
	start := time.Now()
	const waits = 20000
	for i := 0; i < waits; i++ {
		c.waitBegin()
		c.waitEnd()
		if !c.turn {
			// Preempted for a whole patience: legitimately taken.
			<-l.turn
			c.turn = true
		}
	}
	periods := int64(time.Since(start)/addfdPatience) + 2
	if n := l.arms.Load(); n > 2*periods {
		t.Errorf("%d waits in %d patience periods set the alarm %d times", waits, periods, n)
	}
	time.Sleep(3 * addfdPatience)
	before := l.alarms.Load()
	time.Sleep(20 * addfdPatience)
	if n := l.alarms.Load() - before; n != 0 {
		t.Errorf("the watchdog woke %d times with no wait", n)
	}
}

// A sleeping watchdog holds no OS thread: it waits in the runtime's
// poller, not in a blocking read (which would hold an M per listener).
func TestWatchdogHoldsNoThread(t *testing.T) {
	threads := func() int {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := threads()
	for i := 0; i < 20; i++ {
		newTestListener(t)
	}
	time.Sleep(100 * time.Millisecond)
	if d := threads() - before; d >= 10 {
		t.Errorf("20 sleeping watchdogs hold %d more threads", d)
	}
}

// Receivers that keep taking turns, with ADDFD waits now short, now past
// the watchdog's patience: at most one of them ever receives at a time,
// and the turn is never lost (every receiver keeps making progress).
func TestTurnProtocolStress(t *testing.T) {
	l := newTestListener(t)
	l.turn <- struct{}{}
	const receivers = 3
	var inRecv, maxInRecv atomic.Int32
	var progress [receivers]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < receivers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &call{l: l}
			defer c.handOff()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for {
				if !c.turn {
					select {
					case <-l.turn:
						c.turn = true
					case <-stop:
						return
					}
				}
				n := inRecv.Add(1)
				if n > maxInRecv.Load() {
					maxInRecv.Store(n)
				}
				time.Sleep(time.Duration(rng.IntN(50)) * time.Microsecond) // RECV
				inRecv.Add(-1)
				c.waitBegin()
				wait := time.Duration(rng.IntN(100)) * time.Microsecond
				if rng.IntN(20) == 0 {
					wait = 3 * addfdPatience // a stopped target
				}
				time.Sleep(wait) // ADDFD
				c.waitEnd()
				progress[i].Add(1)
			}
		}(i)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if m := maxInRecv.Load(); m > 1 {
		t.Errorf("%d receivers were in RECV at once", m)
	}
	var total int64
	for i := range progress {
		total += progress[i].Load()
	}
	if total < 100 {
		t.Errorf("only %d notifications handled in 2 s: the turn was lost", total)
	}
	select {
	case <-l.turn:
	default:
		t.Error("no token left after every receiver stopped")
	}
	select {
	case <-l.turn:
		t.Error("two tokens in circulation")
	default:
	}
}
