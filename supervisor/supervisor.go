package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
)

// Options configure a Supervisor.
type Options struct {
	// Mount is the canonical path where the filesystem is mounted through
	// FUSE: paths under it are served, others are CONTINUEd.
	Mount string
	// Receivers is the number of OS threads serving each listener
	// (default 2). Only one of them waits in RECV at a time: a second
	// waiter would make the kernel alternate between them, and waking a
	// thread that slept longer, often on the other CPU, adds to every
	// notification. The receiving thread keeps its turn through an
	// ADDFD (which waits for the target to install the fd) unless the
	// ADDFD lasts longer than addfdPatience: see call.waitBegin, turn.go.
	Receivers int
	Log       *slog.Logger
	// Observer, when set, is told of every notification answered.
	Observer event.Observer
	// Faults, when set, are the fault rules applied to every notified
	// call (the rules of a group only to the listener served with it).
	Faults *faults.Set
}

// Supervisor answers the notifications of supervised processes from fs.
type Supervisor struct {
	fs        *fsimpl.FS
	mount     string
	log       *slog.Logger
	receivers int
	// dev is the st_dev the FUSE mount reports, so that both doors show
	// the same device. Immutable after New.
	dev   uint64
	mntID uint64 // the FUSE mount's id, for statx
	// admission says who the FUSE mount lets in. Immutable after New.
	admission fuseAdmission
	// mounts follows where the mount is and what is mounted on it.
	mounts mountWatch
	self   int // this process's pid
	// statfsBase is the FUSE mount's statfs (type, fsid, flags), onto
	// which served statfs calls put fsimpl's numbers.
	statfsBase unix.Statfs_t

	slots slotTable
	watch servedWatch
	creds credCache
	// viewChanged: some supervised process changed its view of the
	// filesystem (viewChange). Its listener is left to the kernel; other
	// lanes, which cannot tell its processes apart, step aside for all
	// (LaneAt).
	viewChanged atomic.Bool
	// credHook and viewHook are the fast lane's (laneview.go).
	credHook credHookFn
	viewHook atomic.Pointer[func()]
	// doorbell is the fast lane's (doorbell.go).
	doorbell doorbellHook

	stats Stats
	obs   event.Observer // nil: none

	faults *faults.Set // nil: no fault injection
	tgids  *procfs.TgidCache
	// servedPaths maps the inode of each file served while there are
	// fault rules to the mount path it was opened by (rememberPath).
	servedPaths  sync.Map // fsimpl.Ino -> string
	servedPathsN atomic.Int64
	// onAnswer, set by tests before Serve, sees every answer with its
	// syscall number and the last path argument read.
	onAnswer func(nr int32, path string, r result)

	mu        sync.Mutex
	listeners map[*listener]bool // guarded by mu
	closed    bool               // guarded by mu
	wg        sync.WaitGroup
}

// Stats counts what the supervisor did.
type Stats struct {
	Served    atomic.Uint64 // answered from fsimpl
	Continued atomic.Uint64 // let through to the kernel
	Errors    atomic.Uint64 // answered with an errno
	Gone      atomic.Uint64 // target gone before the answer
}

// New returns a supervisor for fs mounted at opts.Mount.
func New(fs *fsimpl.FS, opts Options) (*Supervisor, error) {
	if opts.Receivers <= 0 {
		opts.Receivers = 2
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	var st unix.Stat_t
	if err := unix.Stat(opts.Mount, &st); err != nil {
		return nil, fmt.Errorf("stat mount %s: %w", opts.Mount, err)
	}
	s := &Supervisor{
		fs:        fs,
		mount:     opts.Mount,
		log:       opts.Log,
		receivers: opts.Receivers,
		obs:       opts.Observer,
		faults:    opts.Faults,
		tgids:     procfs.NewTgidCache(),
		dev:       st.Dev,
		self:      unix.Getpid(),
		listeners: make(map[*listener]bool),
	}
	var stx unix.Statx_t
	if err := unix.Statfs(opts.Mount, &s.statfsBase); err != nil {
		return nil, fmt.Errorf("statfs mount %s: %w", opts.Mount, err)
	}
	if err := unix.Statx(unix.AT_FDCWD, opts.Mount, 0, unix.STATX_MNT_ID, &stx); err != nil {
		return nil, fmt.Errorf("statx mount %s: %w", opts.Mount, err)
	}
	s.mntID = stx.Mnt_id
	adm, err := readAdmission(s.mntID)
	if err != nil {
		return nil, fmt.Errorf("options of the FUSE mount %s: %w", opts.Mount, err)
	}
	s.admission = adm
	if err := s.openMounts(); err != nil {
		return nil, fmt.Errorf("follow the FUSE mount %s: %w", opts.Mount, err)
	}
	s.slots.init()
	return s, nil
}

// listener is one notify fd being served.
type listener struct {
	fd   int
	base int // reserved descriptor range of its targets: [base, base+size)
	size int
	// group is the fault rules' group of this listener's processes.
	group   uint64
	data    bool // the filter notifies data syscalls (ServeOptions.Data)
	stopped atomic.Bool
	// kernelOnly: a process of this listener changed its view of the
	// filesystem; every call is left to the kernel (viewChange).
	kernelOnly atomic.Bool
	mu         sync.Mutex
	tids       map[int]bool // receiver threads, guarded by mu
	done       chan struct{}
	// turn is held by the one receiver thread allowed to wait in RECV
	// (capacity 1: a token in the channel means no thread holds it).
	turn chan struct{}
	// waiting is the ticket of the ADDFD the turn holder is waiting in, 0
	// when none; seq numbers the tickets. Whoever swaps a ticket out
	// decides: the holder at the end of its ADDFD (it keeps the turn) or
	// the watchdog (it passes the turn on). waitStart is when the latest
	// wait began (monoNow).
	waiting   atomic.Uint64
	seq       atomic.Uint64
	waitStart atomic.Int64
	// alarm is the watchdog's timerfd (turn.go), alarmFile the same
	// descriptor for the runtime's poller; alarms counts how often it
	// went off; watchdogDone is closed when the watchdog has returned.
	alarm        int
	alarmFile    *os.File
	alarms       atomic.Int64
	arms         atomic.Int64 // how often the alarm was set (setAlarm)
	armed        atomic.Bool  // the alarm is set and the watchdog will look
	watchdogDone chan struct{}
	// board, when set, gets the id of every notification received (see
	// Board), in the slot of the receiver that got it; slots marks the
	// slots in use.
	board *Board
	slots []bool

	// avail counts the receivers not sleeping in an injected delay; a
	// receiver that sleeps starts a spare while avail is below the
	// supervisor's receivers, and a receiver retires when it is above.
	avail  atomic.Int32
	spares atomic.Int32
	wg     sync.WaitGroup // receivers
	errs   chan error     // the first receiver error
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("supervisor closed")

// Serve takes ownership of the listener fd and answers its notifications
// until every process using the filter has exited (POLLHUP) or Close is
// called. It returns after the fd is closed.
//
// base and size give the targets' reserved descriptor range (the range the
// filter was built for); size 0 installs served files at the lowest free
// descriptor instead.
func (s *Supervisor) Serve(fd, base, size int) error {
	return s.ServeWith(fd, ServeOptions{Base: base, Size: size})
}

// ServeOptions describe a listener's processes to ServeWith.
type ServeOptions struct {
	Base, Size int // the reserved descriptor range
	// Group is the fault rule group of the processes' calls
	// (faults.Call.Group); its rules are removed from the supervisor's set
	// when Serve returns.
	Group uint64
	// Data: the filter notifies data syscalls for fault rules (FilterFor),
	// so served opens record their paths for the rules to match.
	Data bool
	// Board, when set, gets the id of each notification received, so that
	// the process that handed the listener over can answer what is left
	// pending if this one dies (TakeOver). The caller keeps it and closes
	// it after ServeWith has returned.
	Board *Board
}

// ServeWith is Serve with options.
func (s *Supervisor) ServeWith(fd int, o ServeOptions) error {
	base, size := o.Base, o.Size
	l := &listener{fd: fd, base: base, size: size, group: o.Group, data: o.Data, tids: make(map[int]bool), done: make(chan struct{}),
		turn: make(chan struct{}, 1), errs: make(chan error, 1), board: o.Board}
	if o.Group != 0 && s.faults != nil {
		defer s.faults.DelGroup(o.Group)
	}
	l.turn <- struct{}{}
	if err := l.startWatchdog(); err != nil {
		unix.Close(fd)
		return err
	}
	defer l.stopWatchdog()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		unix.Close(fd)
		return ErrClosed
	}
	addProcs(1)
	defer addProcs(-1)
	s.listeners[l] = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	if e := setSyncWakeUp(fd); e != 0 && e != unix.EINVAL {
		s.log.Debug("SYNC_WAKE_UP unavailable", "err", e)
	}
	for i := 0; i < s.receivers; i++ {
		l.avail.Add(1)
		s.startReceiver(l)
	}
	// The monitor waits for POLLHUP: poll with no events wakes only for
	// hang-up and errors, never for the notifications themselves.
	go func() {
		pfd := []unix.PollFd{{Fd: int32(fd)}}
		for !l.stopped.Load() {
			_, err := unix.Poll(pfd, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				break
			}
		}
		l.stop()
	}()
	go func() {
		<-l.done
		// Receivers block in RECV, which no hang-up wakes: interrupt
		// them with SIGURG (the Go runtime's own preemption signal, which
		// it ignores) until they are gone.
		for {
			l.mu.Lock()
			n := len(l.tids)
			for tid := range l.tids {
				unix.Tgkill(s.self, tid, unix.SIGURG)
			}
			l.mu.Unlock()
			if n == 0 {
				return
			}
			runtime.Gosched()
			sleepBriefly()
		}
	}()
	l.wg.Wait()
	l.stop()
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	unix.Close(fd)
	select {
	case err := <-l.errs:
		return err
	default:
		return nil
	}
}

// startReceiver starts one more receiving thread on l (the caller counts
// it in l.avail).
func (s *Supervisor) startReceiver(l *listener) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		i := l.takeSlot()
		defer l.dropSlot(i)
		if err := s.receive(l, i); err != nil {
			select {
			case l.errs <- err:
			default:
			}
		}
	}()
}

// takeSlot gives a starting receiver the lowest board slot no live
// receiver has, so that a spare never overwrites the id of a call another
// receiver is still serving.
func (l *listener) takeSlot() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, used := range l.slots {
		if !used {
			l.slots[i] = true
			return i
		}
	}
	l.slots = append(l.slots, true)
	return len(l.slots) - 1
}

func (l *listener) dropSlot(i int) {
	l.mu.Lock()
	l.slots[i] = false
	l.mu.Unlock()
}

func (l *listener) stop() {
	if l.stopped.CompareAndSwap(false, true) {
		close(l.done)
	}
}

// receive is receiving thread i's loop. EINTR retries (or ends after
// stop), ENOENT means the notification went away (its target died): carry
// on, unless the listener has hung up; any other error ends the loop.
//
// After a notification the thread waits for the next one in a poll that
// keeps its P; after a signal (EINTR), in RECV, an ordinary blocking
// syscall (procs.go says why).
func (s *Supervisor) receive(l *listener, i int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	l.mu.Lock()
	l.tids[tid] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.tids, tid)
		l.mu.Unlock()
	}()
	var n notif
	c := &call{s: s, l: l}
	defer c.handOff()
	held := false // wait for the next notification keeping the P (procs.go)
	var waits waitAverage
	for !l.stopped.Load() {
		// A spare started for an injected delay retires when the
		// sleeper is back.
		if l.retire(s.receivers) {
			return nil
		}
		if !c.turn {
			select {
			case <-l.turn:
				c.turn = true
			case <-l.done:
				return nil
			}
		}
		waitStart := time.Now()
		if held {
			// Wait for the next notification keeping the P; a
			// signal (EINTR) sends this thread back to the ordinary
			// wait, in RECV.
			if e := notifPollHeld(l.fd); e != 0 {
				held = false
				if e != unix.EINTR {
					l.stop()
					return fmt.Errorf("poll listener: %w", e)
				}
				continue
			}
		}
		switch e := notifRecv(l.fd, &n); e {
		case 0:
			held = waits.next(time.Since(waitStart))
		case unix.EINTR:
			held = false
			continue
		case unix.ENOENT:
			if hungUp(l.fd) {
				l.stop()
				return nil
			}
			continue
		default:
			l.stop()
			return fmt.Errorf("receive notification: %w", e)
		}
		if l.board != nil {
			l.board.publish(i, n.ID)
		}
		c.reset(&n)
		if n.Data.Nr == DoorbellNr {
			s.ring(c)
			continue
		}
		s.dispatch(c)
	}
	return nil
}

// hungUp reports whether the listener has no processes left.
func hungUp(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
}

// Close stops serving every listener; supervised processes still running
// then get ENOSYS from the syscalls the filter notifies. It waits for the
// Serve calls to return.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.closeWatch()
	s.creds.close()
	s.mounts.close()
}

// Closed reports whether Close has been called.
func (s *Supervisor) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// StatsSnapshot returns the counters.
func (s *Supervisor) StatsSnapshot() (served, continued, errs, gone uint64) {
	return s.stats.Served.Load(), s.stats.Continued.Load(), s.stats.Errors.Load(), s.stats.Gone.Load()
}
