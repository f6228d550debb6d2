package supervisor

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The watchdog of the receive turn.
//
// The turn holder keeps its turn through a wait on others (an ADDFD waits
// until the target has installed the descriptor; see call.waitBegin),
// which normally lasts tens of microseconds. A target that does not run
// meanwhile (stopped, traced) would hold every other target of the
// listener up, so a wait that lasts addfdPatience loses the turn: the
// watchdog passes it on, and the holder learns so at the end of its wait.
//
// The watchdog waits for a timerfd (alarm) to become readable, which a
// wait arms for addfdPatience unless it is armed already (armed). When it
// goes off, the watchdog looks at the wait under way: none, and it sleeps
// unarmed until the next wait; one that began less than addfdPatience
// ago, and it rearms for the rest of that wait's patience; an older one
// loses the turn. So while a program keeps the daemon busy, the watchdog
// wakes at most once per addfdPatience and each wait costs two atomic
// operations; when the program stops, the watchdog stops with it. (Arming
// per wait, and disarming at its end, put two timerfd_settime calls on
// every fast-lane request and mutation; a Go ticker woke an idle thread
// every period for as long as the program ran, and for 50 periods after.)
// The timerfd is non-blocking and read through the runtime's poller, so
// the sleeping watchdog holds no OS thread.
//
// Lost wake-ups: a wait stores waiting before it looks at armed, and the
// watchdog clears armed before it looks at waiting (sequentially
// consistent atomics), so either the wait sees armed clear and arms, or
// the watchdog sees the wait and rearms. Both may arm; the later deadline
// then stands, which at worst lengthens one wait's patience by one
// period.

// addfdPatience is how long a wait may hold the receive turn.
const addfdPatience = 2 * time.Millisecond

// startWatchdog makes the alarm and starts the watchdog.
func (l *listener) startWatchdog() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("create the receive turn's timer: %w", err)
	}
	l.alarm = fd
	l.alarmFile = os.NewFile(uintptr(fd), "btfuse-turn-alarm")
	l.watchdogDone = make(chan struct{})
	go l.watchdog()
	return nil
}

// stopWatchdog ends the watchdog: closing the alarm ends its read. No
// wait may begin afterwards (ServeWith calls it once its receivers are
// gone).
func (l *listener) stopWatchdog() {
	l.alarmFile.Close()
	<-l.watchdogDone
}

// armAlarm arms the alarm for addfdPatience unless it is armed.
func (l *listener) armAlarm() {
	if !l.armed.Load() && l.armed.CompareAndSwap(false, true) {
		l.setAlarm(addfdPatience)
	}
}

// setAlarm arms the alarm to go off once, d from now; 0 disarms it.
func (l *listener) setAlarm(d time.Duration) {
	l.arms.Add(1)
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	unix.TimerfdSettime(l.alarm, 0, &its, nil)
}

// watchdog passes the receive turn on when its holder has waited for
// addfdPatience in the same wait.
func (l *listener) watchdog() {
	defer close(l.watchdogDone)
	var buf [8]byte
	for {
		if _, err := l.alarmFile.Read(buf[:]); err != nil {
			// Closed at stop (os.ErrClosed), or not a timerfd any
			// more: nothing would wake this loop again, and waits
			// then keep the turn however long they last.
			return
		}
		l.alarms.Add(1)
		l.armed.Store(false)
		cur := l.waiting.Load()
		if cur == 0 {
			continue // no wait under way: the next one arms
		}
		// waitStart is stored before waiting: it is this wait's start
		// or a later one's, never an earlier one's.
		if left := addfdPatience - time.Duration(monoNow()-l.waitStart.Load()); left > 0 {
			l.armed.Store(true)
			l.setAlarm(left) // a later wait began: its own patience
			continue
		}
		if l.waiting.CompareAndSwap(cur, 0) {
			// The channel is empty: the holder was the one thread
			// with the turn. (Never block here regardless.)
			select {
			case l.turn <- struct{}{}:
			default:
			}
		}
	}
}
