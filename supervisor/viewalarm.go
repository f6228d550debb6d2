package supervisor

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// A served call must see every mount, remount or move of a directory
// above the mount that returned before the call began, so currentView
// asks the kernel whether the mount table or the directories above the
// mount changed. A poll(2) of the two descriptors per call is one syscall
// more on every request; the view alarm asks the same question without
// one.
//
// The alarm is an io_uring with IORING_SETUP_DEFER_TASKRUN and
// IORING_SETUP_TASKRUN_FLAG, holding a poll request on a descriptor of
// /proc/self/mountinfo of its own (POLLPRI: a mount table change; its
// event counter is per open file, so it takes nothing from the poll of
// currentView) and one on the inotify descriptor of the directories above
// the mount (POLLIN). When the kernel wakes either, it sets
// IORING_SQ_TASKRUN in the ring's shared flags word from the waker's own
// context (io_req_local_work_add()), before the mount(2) or rename(2) that
// woke it returns: one atomic load of that word tells a later call that
// something changed. A request whose descriptor was ready when it was
// armed completes at once instead, with a completion in the ring, which
// the load looks at too. The alarm checks this of the running kernel
// when it is made (alarm.probe). Rung, currentView rearms the alarm
// (alarm.rearm), then polls and refreshes as before, until a poll after a
// rearm finds nothing: whatever happened before the rearm shows in that
// poll, and whatever happened after it rings the alarm again
// (TestViewAlarmRingsInline pins the kernel's part,
// TestCurrentViewSeesRemountAtOnce the whole).
//
// The deferred completions run only when the ring's own thread enters it
// (IORING_SETUP_SINGLE_ISSUER), so every io_uring_enter is made on one
// locked OS thread (alarm.run). Without io_uring (a kernel before 6.1,
// kernel.io_uring_disabled, a seccomp filter of the daemon's own),
// newViewAlarm fails and currentView polls on every call, as before.

// Poll requests' user data: the mount table's, and the inotify
// descriptor's (with the generation of the descriptor in the upper half).
const (
	alarmMounts = 1
	alarmRemove = 2
	alarmProbe  = 3
	alarmIno    = 1 << 32
)

// alarm is the view alarm; its fields but the mapped words belong to its
// thread.
type alarm struct {
	ring alarmRing
	// mfd is its own /proc/self/mountinfo.
	mfd int
	// mountsArmed: the poll of mfd is in the ring; ino, inoGen: the
	// inotify descriptor polled now, and its request's generation (0:
	// none armed).
	mountsArmed bool
	ino         int
	inoGen      uint64
	gen         uint64

	calls chan alarmCall
	done  chan struct{}
}

type alarmCall struct {
	ino   int // rearm with this inotify descriptor; -1: stop
	reply chan unix.Errno
}

// newViewAlarm sets up the alarm with the inotify descriptor ino, armed.
func newViewAlarm(ino int) (*alarm, error) {
	a := &alarm{ino: -1, calls: make(chan alarmCall), done: make(chan struct{})}
	ready := make(chan error, 1)
	go a.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	if e := a.rearm(ino); e != 0 {
		a.stop()
		return nil, e
	}
	return a, nil
}

// run is the ring's thread: it makes the ring, then every io_uring_enter.
func (a *alarm) run(ready chan<- error) {
	runtime.LockOSThread()
	defer close(a.done)
	// Not unlocked: the thread is the ring's submitter task; it exits
	// with the goroutine rather than serve other goroutines.
	mfd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ready <- err
		return
	}
	a.mfd = mfd
	if err := a.ring.setup(); err != nil {
		unix.Close(mfd)
		ready <- err
		return
	}
	if err := a.probe(); err != nil {
		a.ring.close()
		unix.Close(mfd)
		ready <- err
		return
	}
	ready <- nil
	for c := range a.calls {
		if c.ino == -1 {
			a.shutdown()
			c.reply <- 0
			return
		}
		c.reply <- a.rearmLocked(c.ino)
	}
}

// probe checks that the ring rings at once: a poll of an eventfd, woken
// by a write to it, must show before the write returns, as the mount
// table's and inotify's wake-ups must (the same io_uring path). A kernel
// that defers it gets no alarm.
func (a *alarm) probe() error {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(efd)
	a.ring.pollAdd(efd, unix.POLLIN, alarmProbe)
	if e := a.ring.enter(1, 0); e != 0 {
		return e
	}
	quiet := !a.ring.pending()
	one := [8]byte{1}
	if _, err := unix.Write(efd, one[:]); err != nil {
		return err
	}
	rang := a.ring.pending()
	if e := a.ring.enter(0, ioringEnterGetevents); e != 0 {
		return e
	}
	for _, ok := a.ring.reap(); ok; _, ok = a.ring.reap() {
	}
	if !quiet || !rang || a.ring.pending() {
		return fmt.Errorf("io_uring poll wake-ups do not show at once (quiet %v, rang %v)", quiet, rang)
	}
	return nil
}

// rung reports whether the alarm rang since the last rearm (or may have:
// a request that completed for another reason rings it too).
func (a *alarm) rung() bool { return a.ring.pending() }

// rearm empties the ring and arms its polls again, the inotify one on
// ino (which may be a new descriptor). On an error the alarm keeps
// ringing, so that every call polls.
func (a *alarm) rearm(ino int) unix.Errno {
	reply := make(chan unix.Errno, 1)
	a.calls <- alarmCall{ino: ino, reply: reply}
	return <-reply
}

// stop cancels the polls and ends the thread. The ring's mappings stay,
// so that a rung that races with stop reads mapped memory.
func (a *alarm) stop() {
	reply := make(chan unix.Errno, 1)
	a.calls <- alarmCall{ino: -1, reply: reply}
	<-reply
	<-a.done
}

// rearmLocked runs the deferred completions, reaps them and arms what
// completed, or what watches a replaced inotify descriptor.
func (a *alarm) rearmLocked(ino int) unix.Errno {
	if e := a.ring.enter(0, ioringEnterGetevents); e != 0 {
		return e
	}
	for {
		ud, ok := a.ring.reap()
		if !ok {
			break
		}
		switch {
		case ud == alarmMounts:
			a.mountsArmed = false
		case ud == alarmIno|a.inoGen:
			a.inoGen = 0
		}
	}
	n := 0
	if !a.mountsArmed {
		a.ring.pollAdd(a.mfd, unix.POLLPRI, alarmMounts)
		a.mountsArmed = true
		n++
	}
	if ino != a.ino || a.inoGen == 0 {
		if a.inoGen != 0 {
			a.ring.pollRemove(alarmIno|a.inoGen, alarmRemove)
			n++
		}
		a.gen++
		a.ino, a.inoGen = ino, a.gen&(alarmIno-1)
		if ino >= 0 {
			a.ring.pollAdd(ino, unix.POLLIN, alarmIno|a.inoGen)
			n++
		}
	}
	if n > 0 {
		return a.ring.enter(n, 0)
	}
	return 0
}

// shutdown cancels the polls (so the ring holds no descriptor) and
// closes what the alarm opened.
func (a *alarm) shutdown() {
	n := 0
	if a.mountsArmed {
		a.ring.pollRemove(alarmMounts, alarmRemove)
		n++
	}
	if a.inoGen != 0 {
		a.ring.pollRemove(alarmIno|a.inoGen, alarmRemove)
		n++
	}
	a.ring.enter(n, ioringEnterGetevents)
	a.ring.close()
	unix.Close(a.mfd)
}
