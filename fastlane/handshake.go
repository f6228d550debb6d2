package fastlane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/faults"
	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/supervisor"
)

// OpHandshake is the control op through which the library asks for its
// process's segment. The request has no body; the reply carries the memfd.
const OpHandshake = "fastlane"

// SocketEnv names the variable through which the library learns the path
// of the daemon's control socket.
const SocketEnv = "BTFUSE_FAST_SOCKET"

// Server serves the channel of every process that handshaked.
//
// Lock order: Server.mu comes before the filesystem's FS.mu and the
// supervisor's locks (the view's refresh and credential hook call into
// both with it held); nothing holds those and then takes Server.mu.
type Server struct {
	fs  *fsimpl.FS
	sup *supervisor.Supervisor
	log *slog.Logger
	obs event.Observer // nil: none
	// faults are the daemon's fault rules: the channel passes the calls
	// they name (nil: none). faultsLive is faults.ForAll, kept by
	// faultsChanged (faults.go); stopFaults ends its calls.
	faults     *faults.Set
	faultsLive atomic.Bool
	stopFaults func()
	// euid is the daemon's, the owner of the backing files.
	euid uint32

	mu       sync.Mutex
	sessions map[*session]bool // guarded by mu
	// bells are the sessions by doorbell id (doorbell.go); lastBell is
	// the last id given.
	bells    map[uint32]*session // guarded by mu
	lastBell uint32              // guarded by mu
	view     *viewState          // guarded by mu; nil until a process gets the view
	closed   bool                // guarded by mu
	wg       sync.WaitGroup
	pins     pinners
}

// New returns a server answering from fs with the credentials and path
// rules of sup. obs, when not nil, is told of every call answered; the
// calls that rules (nil: none) name pass to the seccomp lane.
func New(fs *fsimpl.FS, sup *supervisor.Supervisor, log *slog.Logger, obs event.Observer, rules *faults.Set) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{fs: fs, sup: sup, log: log, obs: obs, faults: rules, euid: uint32(os.Geteuid()),
		sessions: make(map[*session]bool), bells: make(map[uint32]*session)}
	sup.OnDoorbell(s.ring)
	s.faultsLive.Store(rules.ForAll())
	s.stopFaults = rules.OnChange(s.faultsChanged)
	return s
}

// errClosed is the handshake's answer once the server is closed.
var errClosed = errors.New("fast lane closed")

// Handshake is the control handler of OpHandshake. The peer is the
// process SO_PEERCRED names: it waits for this reply, so its pid is not
// reused before the pidfd is open.
func (s *Server) Handshake(_ context.Context, req *control.Request) (control.Reply, error) {
	for _, f := range req.Files {
		f.Close()
	}
	pid := int(req.Peer.Pid)
	if pid <= 0 {
		return control.Reply{}, errors.New("fast lane: no peer process")
	}
	th, ok := s.sup.LaneThread(pid)
	if !ok || th.Tgid() != pid || !filtered(pid) {
		return control.Reply{}, fmt.Errorf("fast lane: process %d is left to the seccomp lane", pid)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return control.Reply{}, fmt.Errorf("fast lane: pidfd of %d: %w", pid, err)
	}
	seg, err := newSegment()
	if err != nil {
		unix.Close(pidfd)
		return control.Reply{}, err
	}
	// The server closes the reply's files after sending: hand it a
	// duplicate, the session keeps the memfd until it ends.
	dup, err := unix.FcntlInt(seg.file.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		seg.close()
		unix.Close(pidfd)
		return control.Reply{}, fmt.Errorf("fast lane: %w", err)
	}
	bell, err := doorbell()
	if err != nil {
		unix.Close(dup)
		seg.close()
		unix.Close(pidfd)
		return control.Reply{}, fmt.Errorf("fast lane: %w", err)
	}
	reply := control.Reply{Body: map[string]int{"slots": NumSlots}, Files: []*os.File{
		os.NewFile(uintptr(dup), "btfuse-fastlane"), os.NewFile(uintptr(bell[1]), "btfuse-bell")}}
	ss := &session{s: s, seg: seg, tgid: pid, pidfd: pidfd, bell: bell[0]}
	// The backing directory, third, only for a process that could open
	// the backing files anyway; without it the library leaves opens to
	// the seccomp lane.
	if s.mayOpenBacking(th) {
		if bfd, err := s.fs.BackingDir(); err == nil {
			reply.Files = append(reply.Files, os.NewFile(uintptr(bfd), "btfuse-backing"))
			ss.backing = true
			// The metadata view, fourth, to the same processes (view.go).
			if vf := s.viewFile(th); vf != nil {
				reply.Files = append(reply.Files, vf)
				ss.view = true
				s.addPins(ss)
			}
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ss.release()
		for _, f := range reply.Files {
			f.Close()
		}
		return control.Reply{}, errClosed
	}
	s.sessions[ss] = true
	ss.ringable()
	ss.setViewWalk()
	ss.storeFaults(s.faultsLive.Load())
	s.wg.Add(1)
	s.mu.Unlock()
	go ss.run()
	return reply, nil
}

// Sessions is the number of processes being served.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session: their processes pass from then on. It waits
// for the workers.
func (s *Server) Close() {
	s.stopFaults() // before s.mu: faultsChanged takes it
	s.mu.Lock()
	s.closed = true
	for ss := range s.sessions {
		ss.end()
	}
	v := s.view
	s.mu.Unlock()
	s.sup.OnDoorbell(nil)
	if v != nil {
		s.sup.OnCredChange(nil)
		v.stop()
		s.fs.SetViewUsable(false)
	}
	s.wg.Wait()
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	if ss.bellID != 0 {
		delete(s.bells, ss.bellID)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// doorbell makes the doorbell socket pair: the daemon's end, blocking
// with a receive timeout of WorkerPatience, and the library's, which only
// writes and never blocks.
func doorbell() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fds, err
	}
	tv := unix.NsecToTimeval(int64(WorkerPatience))
	if err := unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fds, err
	}
	if err := unix.SetNonblock(fds[1], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fds, err
	}
	return fds, nil
}

// filtered reports whether process pid runs under a seccomp filter: the
// channel serves the processes of 'btfuse run', whose set*id and capset
// calls the filter notifies, so that their cached credentials are
// forgotten in time. (Any filter counts: the daemon cannot tell its own
// from another, and a process of the daemon's user can reach everything
// through the FUSE mount anyway.)
func filtered(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			return strings.TrimSpace(v) == "2"
		}
	}
	return false
}
