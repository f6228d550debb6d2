package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Request is a request as a handler sees it.
type Request struct {
	Op   string
	Body json.RawMessage
	// Files arrived with the request; the handler owns them and must close
	// them.
	Files []*os.File
	// Peer is the client's process, user and group (SO_PEERCRED).
	Peer unix.Ucred
}

// Reply is what a handler answers. Body is encoded as JSON; Files are sent
// with the reply and then closed by the server.
type Reply struct {
	Body  any
	Files []*os.File
	// Hold, when set, keeps the connection open after the reply for as
	// long as what the request started lasts: the server reads no more
	// requests from it, and when Hold yields a text (or is closed) it sends
	// that text in a final OpHangup message and hangs up. Close sends
	// "the daemon is shutting down" on the held connections left. So a
	// client that sees the connection end without that message knows
	// that the daemon died.
	Hold <-chan string
}

// Handler answers one op. An error becomes the reply's Error text.
type Handler func(ctx context.Context, req *Request) (Reply, error)

// Server accepts connections on a control socket and dispatches requests to
// the handlers registered with Handle.
type Server struct {
	ln   *net.UnixListener
	path string
	log  *slog.Logger
	// allow decides whether a peer may talk to this server.
	allow func(unix.Ucred) bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	handlers map[string]Handler     // guarded by mu
	conns    map[*net.UnixConn]bool // true while a request is handled; guarded by mu
	closed   bool                   // guarded by mu
}

// Listen creates the control socket at path (mode 0600), replacing a stale
// socket file left there, and returns a server that answers "ping". Call
// Handle for the other ops, then Start.
func Listen(path string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s exists and is not a socket: remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		ln:       ln,
		path:     path,
		log:      log,
		allow:    defaultAllow(uint32(os.Geteuid())),
		ctx:      ctx,
		cancel:   cancel,
		handlers: make(map[string]Handler),
		conns:    make(map[*net.UnixConn]bool),
	}
	s.Handle(OpPing, func(context.Context, *Request) (Reply, error) {
		return Reply{Body: map[string]int{"pid": os.Getpid()}}, nil
	})
	return s, nil
}

// defaultAllow admits root and the daemon's own user.
func defaultAllow(self uint32) func(unix.Ucred) bool {
	return func(c unix.Ucred) bool { return c.Uid == 0 || c.Uid == self }
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Handle registers h for op, replacing any earlier handler.
func (s *Server) Handle(op string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[op] = h
}

// Start runs the accept loop in a goroutine until Close.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.acceptLoop()
	}()
}

// Close stops accepting, closes every open connection (clients waiting for
// the daemon to go see EOF), and removes the socket file. A connection whose
// request is being handled is closed after its reply; Close cancels the
// handlers' context and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c, busy := range s.conns {
		if !busy {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Accept backoff bounds: a failed accept is retried after acceptBackoffMin,
// doubling up to acceptBackoffMax, so that a full descriptor table costs a
// few wakeups a second and the socket answers again soon after it drains.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// retryAccept reports whether an accept failure is a shortage that passes
// (descriptors or memory) rather than a broken listener.
func retryAccept(err error) bool {
	for _, e := range []unix.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) acceptLoop() {
	var backoff time.Duration
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !retryAccept(err) {
				s.log.Error("control socket accept failed; control socket disabled", "err", err)
				return
			}
			// Out of descriptors or memory: the connection waits in the
			// backlog (its client's call has a deadline); try again later,
			// never in a tight loop.
			if backoff == 0 {
				backoff = acceptBackoffMin
				s.log.Warn("control socket accept failed; retrying", "err", err)
			} else {
				backoff = min(2*backoff, acceptBackoffMax)
			}
			t := time.NewTimer(backoff)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if backoff != 0 {
			s.log.Info("control socket accepts again")
			backoff = 0
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			conn.Close()
		}()
	}
}

// PeerCred returns the credentials of the process at the other end of conn.
func PeerCred(conn *net.UnixConn) (unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return unix.Ucred{}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, err
	}
	if serr != nil {
		return unix.Ucred{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return *cred, nil
}

func (s *Server) serveConn(conn *net.UnixConn) {
	peer, err := PeerCred(conn)
	if err != nil {
		s.log.Warn("control socket: no peer credentials", "err", err)
		return
	}
	if !s.allow(peer) {
		s.log.Warn("control socket: peer refused", "uid", peer.Uid, "pid", peer.Pid)
		// Say why before hanging up, so the client can tell its user: read
		// its request first (briefly), so that the answer is not lost to a
		// reset connection.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, files, _ := Recv(conn)
		closeAll(files)
		op := ""
		if m != nil {
			op = m.Op
		}
		s.reply(conn, op, fmt.Errorf("permission denied: uid %d may not control this daemon (only root and uid %d)", peer.Uid, os.Geteuid()), Reply{})
		return
	}
	for {
		m, files, err := Recv(conn)
		if err != nil {
			closeAll(files)
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("control socket: bad frame", "err", err)
				s.reply(conn, "", err, Reply{})
			}
			return
		}
		if m.Version != Version {
			closeAll(files)
			s.reply(conn, m.Op, &VersionError{Got: m.Version}, Reply{})
			continue
		}
		if !s.setBusy(conn, true) {
			closeAll(files)
			return
		}
		rep, err := s.dispatch(&Request{Op: m.Op, Body: m.Body, Files: files, Peer: peer})
		if err != nil {
			rep.Hold = nil
		}
		ok := s.reply(conn, m.Op, err, rep)
		if ok && rep.Hold != nil {
			// Busy for as long as it is held: Close must not cut it
			// off without the last word.
			s.hold(conn, rep.Hold)
			return
		}
		if !s.setBusy(conn, false) || !ok {
			return
		}
	}
}

// hold keeps conn open until hold yields, the client hangs up or the
// server closes, and says why in an OpHangup message unless the client is
// gone.
func (s *Server) hold(conn *net.UnixConn, hold <-chan string) {
	eof := make(chan struct{})
	go func() {
		// Nothing is expected from the client; a read ends when it hangs
		// up or when the connection is closed after this returns.
		buf := make([]byte, 64)
		for {
			if _, err := conn.Read(buf); err != nil {
				close(eof)
				return
			}
		}
	}()
	var why string
	select {
	case why = <-hold:
	case <-eof:
		return
	case <-s.ctx.Done():
		select {
		case why = <-hold:
		default:
			why = "the daemon is shutting down"
		}
	}
	if why == "" {
		why = "done"
	}
	b, _ := json.Marshal(why)
	if err := Send(conn, &Message{Version: Version, Op: OpHangup, Body: b}, nil); err != nil {
		s.log.Debug("control socket: hang-up message failed", "err", err)
	}
}

// setBusy marks conn as handling a request or not, and reports whether the
// server is still open.
func (s *Server) setBusy(conn *net.UnixConn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[conn] = busy
	return !s.closed
}

func (s *Server) dispatch(req *Request) (rep Reply, err error) {
	s.mu.Lock()
	h, ok := s.handlers[req.Op]
	var known []string
	if !ok {
		for op := range s.handlers {
			known = append(known, op)
		}
	}
	s.mu.Unlock()
	if !ok {
		closeAll(req.Files)
		slices.Sort(known)
		return Reply{}, fmt.Errorf("unknown op %q (this daemon knows %s)", req.Op, strings.Join(known, ", "))
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("control handler panicked", "op", req.Op, "panic", r)
			rep, err = Reply{}, fmt.Errorf("internal error in %s handler", req.Op)
		}
	}()
	return h(s.ctx, req)
}

// reply sends the answer to op and reports whether the connection is still
// usable. Reply files are closed here, sent or not.
func (s *Server) reply(conn *net.UnixConn, op string, herr error, rep Reply) bool {
	defer closeAll(rep.Files)
	m := &Message{Version: Version, Op: op}
	if herr != nil {
		m.Error = herr.Error()
		rep.Files = nil
	} else if rep.Body != nil {
		b, err := json.Marshal(rep.Body)
		if err != nil {
			m.Error = fmt.Sprintf("encode reply: %v", err)
			rep.Files = nil
		} else {
			m.Body = b
		}
	}
	if err := Send(conn, m, rep.Files); err != nil {
		s.log.Debug("control socket: reply failed", "op", op, "err", err)
		return false
	}
	return true
}
