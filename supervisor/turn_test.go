package supervisor

import (
	"testing"
	"time"
)

func newTestListener() *listener {
	l := &listener{done: make(chan struct{}), turn: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	go l.watchdog()
	return l
}

// A short ADDFD keeps the receive turn: nothing is handed over.
func TestTurnKeptThroughShortWait(t *testing.T) {
	l := newTestListener()
	defer l.stop()
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
	l := newTestListener()
	defer l.stop()
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
	// The watchdog goes back to sleep once quiet, and wakes for the next.
	time.Sleep(addfdPatience * (watchdogIdle + 5))
	if l.watching.Load() {
		t.Error("the watchdog still ticks after a quiet period")
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
