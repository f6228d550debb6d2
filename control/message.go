// Package control is the control socket of a btfuse daemon and the registry
// through which other btfuse commands find the daemons that run.
//
// # Registry
//
// Every daemon owns three files in the runtime directory (DefaultDir:
// /run/btfuse for root, $XDG_RUNTIME_DIR/btfuse or /tmp/btfuse-UID
// otherwise, or $BTFUSE_RUNTIME_DIR), named
// from a hash of its cleaned absolute mount path: KEY.lock, KEY.sock and
// KEY.json. The daemon holds an exclusive flock on KEY.lock for its whole
// life; the kernel drops it when the daemon dies, however it dies, so "the
// lock is free" is the definition of a dead entry, and whoever takes a free
// lock may delete the entry. KEY.sock is the control socket and KEY.json the
// Info, written atomically (temporary file + rename) after the socket
// listens.
//
// # Wire format
//
// A connection is a unix stream socket carrying frames: a 4-byte big-endian
// length, then that many bytes of JSON holding a Message. File descriptors
// ride along with a frame as SCM_RIGHTS ancillary data on its first byte.
// The client sends a request (Op set) and reads one reply (Error set on
// failure); a connection may carry several requests in turn, unless a reply
// holds it: then the daemon reads nothing more from it and ends it, when
// the work the request started ends, with an OpHangup message (a held
// connection that ends without one ended with the daemon). A message whose
// Version is not this package's Version is answered with an error naming
// both versions and is otherwise ignored.
//
// # Locking
//
// Server.mu guards the handler table and the set of open connections; it is
// never held while a handler runs or while the server reads or writes.
package control

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Version is the protocol version this package speaks.
const Version = 1

// Limits of one frame.
const (
	MaxMessage = 1 << 20 // bytes of JSON
	MaxFiles   = 16      // descriptors attached to one message
)

// Ops the daemon answers.
const (
	OpPing   = "ping"
	OpInfo   = "info"
	OpUmount = "umount"
	// OpSupervise hands the daemon the seccomp listener of a 'btfuse run'
	// started elsewhere: the request carries the listener and a
	// SuperviseArgs body, and the daemon serves it until the command's
	// processes are gone.
	OpSupervise = "supervise"
	// OpHangup is the daemon's last message on a connection it held open
	// after a reply (Reply.Hold): its body is a JSON string saying why it
	// ends. A held connection that ends without it ended with the daemon.
	OpHangup = "hangup"
	// OpInject edits or lists the daemon's fault injection rules: an
	// InjectArgs body, an InjectReply answer.
	OpInject = "inject"
)

// UmountArgs is the body of an OpUmount request; none means the zero
// value. Lazy detaches the mount at once and lets the daemon serve the
// files still open under it until the last is closed (MNT_DETACH), instead
// of unmounting it and exiting.
type UmountArgs struct {
	Lazy bool `json:"lazy,omitempty"`
}

// SuperviseArgs is the body of an OpSupervise request: the reserved
// descriptor range the listener's filter was built for, and the fault
// rules of 'btfuse run --inject' for the command's processes. A second
// descriptor, when attached, is the notification board
// (supervisor.Board) the daemon publishes the ids it receives on. The
// daemon holds the connection open while it serves the listener (see
// OpHangup).
type SuperviseArgs struct {
	Base int `json:"base"`
	Size int `json:"size"`
	// Inject are rules in the faults package's syntax, applied to the
	// command's processes only; InjectSeed seeds those without seed=.
	Inject     []string `json:"inject,omitempty"`
	InjectSeed uint64   `json:"inject_seed,omitempty"`
	// InjectData: the filter notifies the data syscalls the rules name.
	InjectData bool `json:"inject_data,omitempty"`
}

// InjectArgs is the body of an OpInject request.
type InjectArgs struct {
	Cmd  string `json:"cmd"`            // "add", "list", "del" or "clear"
	Rule string `json:"rule,omitempty"` // add
	ID   int    `json:"id,omitempty"`   // del
}

// InjectRule is one rule in an InjectReply.
type InjectRule struct {
	ID    int    `json:"id"`
	Rule  string `json:"rule"`
	Group uint64 `json:"group,omitempty"` // 0: every lane; else one 'btfuse run'
	Seed  uint64 `json:"seed"`
	Fired uint64 `json:"fired"`
}

// InjectReply answers OpInject: the rules after the request, the id of
// an added rule, the number removed.
type InjectReply struct {
	Rules   []InjectRule `json:"rules"`
	ID      int          `json:"id,omitempty"`
	Removed int          `json:"removed,omitempty"`
}

// Message is one frame on the control socket, request or reply.
type Message struct {
	Version int    `json:"version"`
	Op      string `json:"op,omitempty"`
	// Error is set on a reply that failed; Body is then empty.
	Error string          `json:"error,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
	// Files is the number of descriptors attached to this frame, so that the
	// receiver can tell when some were lost.
	Files int `json:"files,omitempty"`
}

// Send writes m as one frame on conn with files attached. The caller keeps
// ownership of files.
func Send(conn *net.UnixConn, m *Message, files []*os.File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("control: %d files attached, at most %d", len(files), MaxFiles)
	}
	m.Files = len(files)
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("control: encode message: %w", err)
	}
	if len(data) > MaxMessage {
		return fmt.Errorf("control: message of %d bytes, at most %d", len(data), MaxMessage)
	}
	frame := make([]byte, 4+len(data))
	binary.BigEndian.PutUint32(frame, uint32(len(data)))
	copy(frame[4:], data)

	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	// A stream socket may take a large frame in pieces; the descriptors
	// travel with the first one.
	n, _, err := conn.WriteMsgUnix(frame, oob, nil)
	if err == nil && n < len(frame) {
		_, err = conn.Write(frame[n:])
	}
	if err != nil {
		return fmt.Errorf("control: send: %w", err)
	}
	return nil
}

// ErrTruncatedFiles reports that descriptors sent with a frame did not all
// arrive (the receiver's limit, or its RLIMIT_NOFILE).
var ErrTruncatedFiles = errors.New("control: attached files were truncated")

// Recv reads one frame from conn. It returns io.EOF when the peer closed the
// connection between frames. Received descriptors are close-on-exec and
// belong to the caller, also when an error is returned with them.
func Recv(conn *net.UnixConn) (*Message, []*os.File, error) {
	var hdr [4]byte
	oob := make([]byte, unix.CmsgSpace(MaxFiles*4))
	var files []*os.File
	truncated := false
	got := 0
	for got < len(hdr) {
		n, oobn, flags, _, err := conn.ReadMsgUnix(hdr[got:], oob)
		if oobn > 0 {
			fs, perr := parseRights(oob[:oobn])
			files = append(files, fs...)
			if perr != nil {
				closeAll(files)
				return nil, nil, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			truncated = true
		}
		got += n
		if err != nil {
			closeAll(files)
			if errors.Is(err, io.EOF) && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if n == 0 {
			closeAll(files)
			if got == 0 {
				return nil, nil, io.EOF
			}
			return nil, nil, io.ErrUnexpectedEOF
		}
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > MaxMessage {
		closeAll(files)
		return nil, nil, fmt.Errorf("control: frame of %d bytes, at most %d", size, MaxMessage)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(conn, data); err != nil {
		closeAll(files)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("control: read frame: %w", err)
	}
	m := new(Message)
	if err := json.Unmarshal(data, m); err != nil {
		closeAll(files)
		return nil, nil, fmt.Errorf("control: decode frame: %w", err)
	}
	if truncated || m.Files != len(files) {
		return m, files, fmt.Errorf("%w: %d announced, %d received", ErrTruncatedFiles, m.Files, len(files))
	}
	return m, files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control: parse control message: %w", err)
	}
	var files []*os.File
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue // not SCM_RIGHTS (credentials are not asked for)
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "control-fd"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// RemoteError is a failure reported by the daemon in a reply.
type RemoteError struct {
	Op  string
	Msg string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("daemon: %s: %s", e.Op, e.Msg) }

// VersionError is a reply or request in a protocol version this package does
// not speak.
type VersionError struct{ Got int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("unsupported control protocol version %d (this btfuse speaks %d): use the same btfuse binary for the daemon and the command", e.Got, Version)
}
