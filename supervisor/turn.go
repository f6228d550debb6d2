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
// The watchdog waits for a timerfd (alarm) to become readable, which the
// holder arms for addfdPatience when a wait begins and disarms when it
// ends: a watchdog that ticked while waits happened (a Go ticker) woke an
// idle daemon thread, and the Go runtime's netpoller with it, every
// period for as long as a program kept opening files, on a machine where
// waking an idle CPU is dear. Now it runs only for a wait that outlasts
// its patience, at the price of two timerfd_settime calls per wait. The
// timerfd is non-blocking and read through the runtime's poller, so the
// waiting watchdog holds no OS thread.

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

// setAlarm arms the alarm to go off once, d from now; 0 disarms it.
func (l *listener) setAlarm(d time.Duration) {
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
		cur := l.waiting.Load()
		if cur == 0 {
			continue // the wait ended just before its disarm
		}
		// waitStart is stored before waiting: it is this wait's start
		// or a later one's, never an earlier one's.
		if left := addfdPatience - time.Duration(monoNow()-l.waitStart.Load()); left > 0 {
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
