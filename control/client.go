package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// defaultTimeout bounds a Dial or a Call whose context has no deadline. A
// daemon that is hung, or out of descriptors, leaves a connection waiting
// unanswered in its socket's backlog: a command must not wait for it
// forever.
var defaultTimeout = 10 * time.Second

// NoAnswerError reports a daemon that did not answer in time. It unwraps to
// context.DeadlineExceeded.
type NoAnswerError struct {
	Op      string // "" when the connection itself was not accepted
	Timeout time.Duration
}

func (e *NoAnswerError) Error() string {
	what := "accept the connection"
	if e.Op != "" {
		what = fmt.Sprintf("answer %q", e.Op)
	}
	return fmt.Sprintf("the daemon did not %s within %v: it may be hung or out of file descriptors (see its log)",
		what, e.Timeout.Round(time.Millisecond))
}

func (e *NoAnswerError) Unwrap() error { return context.DeadlineExceeded }

// bounded gives ctx a deadline of defaultTimeout when it has none, and
// says how long the caller is willing to wait.
func bounded(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, max(time.Until(dl), 0) // never "within -3ms"
	}
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	return ctx, cancel, defaultTimeout
}

// Client is a connection to a daemon's control socket. It is not safe for
// concurrent use.
type Client struct {
	conn *net.UnixConn
}

// Dial connects to the control socket at path, waiting at most until ctx's
// deadline, or defaultTimeout without one.
func Dial(ctx context.Context, path string) (*Client, error) {
	ctx, cancel, limit := bounded(ctx)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, noAnswer(ctx, "", limit, err)
	}
	return &Client{conn: c.(*net.UnixConn)}, nil
}

// Peer returns the daemon's process, user and group (SO_PEERCRED).
func (c *Client) Peer() (unix.Ucred, error) { return PeerCred(c.conn) }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Call sends op with args (encoded as JSON when not nil) and files attached,
// waits for the reply and decodes its body into reply when not nil. It
// returns the files that came with the reply; the caller owns them. A
// failure reported by the daemon is a *RemoteError, a reply in another
// protocol version a *VersionError, no reply before ctx's deadline (or
// defaultTimeout without one) a *NoAnswerError.
func (c *Client) Call(ctx context.Context, op string, args any, files []*os.File, reply any) ([]*os.File, error) {
	ctx, cancel, limit := bounded(ctx)
	defer cancel()
	m := &Message{Version: Version, Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("encode %s request: %w", op, err)
		}
		m.Body = b
	}
	stop := c.watch(ctx)
	defer stop()
	serr := Send(c.conn, m, files)
	if serr != nil && !errors.Is(serr, unix.EPIPE) && !errors.Is(serr, unix.ECONNRESET) {
		return nil, noAnswer(ctx, op, limit, serr)
	}
	// After the daemon hung up, the answer saying why may still wait.
	r, got, err := Recv(c.conn)
	if serr != nil && (err != nil || r.Error == "") {
		closeAll(got)
		return nil, noAnswer(ctx, op, limit, serr)
	}
	if err != nil {
		closeAll(got)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("daemon closed the control connection without answering %s", op)
		}
		return nil, noAnswer(ctx, op, limit, err)
	}
	if r.Version != Version {
		closeAll(got)
		return nil, &VersionError{Got: r.Version}
	}
	if r.Error != "" {
		closeAll(got)
		return nil, &RemoteError{Op: op, Msg: r.Error}
	}
	if reply != nil && len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, reply); err != nil {
			closeAll(got)
			return nil, fmt.Errorf("decode %s reply: %w", op, err)
		}
	}
	return got, nil
}

// WaitClosed blocks until the daemon closes the connection, which it does as
// the last step of shutting down, or ctx ends.
func (c *Client) WaitClosed(ctx context.Context) error {
	stop := c.watch(ctx)
	defer stop()
	buf := make([]byte, 64)
	for {
		_, err := c.conn.Read(buf)
		if err == nil {
			continue // nothing is expected; ignore stray bytes
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
			return nil
		}
		return c.ctxErr(ctx, err)
	}
}

// watch makes blocking I/O on the connection return when ctx ends.
func (c *Client) watch(ctx context.Context) (stop func()) {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Time{})
	}
	s := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	return func() { s() }
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// noAnswer turns the failure of an exchange that ran out of time into a
// *NoAnswerError; a cancelled ctx is returned as such, other errors as
// they are.
func noAnswer(ctx context.Context, op string, limit time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return &NoAnswerError{Op: op, Timeout: limit}
	}
	return err
}

// WaitHangup waits, without a deadline of its own, until the daemon ends a
// connection it held open after a reply (Reply.Hold), and returns what it
// said then. gone is true when the connection ended without a word: the
// daemon died (or was killed).
func (c *Client) WaitHangup(ctx context.Context) (why string, gone bool, err error) {
	stop := c.watch(ctx)
	defer stop()
	for {
		m, files, err := Recv(c.conn)
		closeAll(files)
		switch {
		case err == nil && m.Op == OpHangup:
			if json.Unmarshal(m.Body, &why) != nil {
				why = string(m.Body)
			}
			return why, false, nil
		case err == nil:
			continue // not expected; ignore
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, unix.ECONNRESET):
			return "", true, nil
		default:
			return "", false, c.ctxErr(ctx, err)
		}
	}
}
