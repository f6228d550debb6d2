package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// connPair returns two connected unix stream sockets, closed at cleanup.
func connPair(tb testing.TB) (*net.UnixConn, *net.UnixConn) {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("socketpair: %v", err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			tb.Fatalf("FileConn: %v", err)
		}
		conns[i] = c.(*net.UnixConn)
		tb.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

func TestSendRecvRoundTrip(t *testing.T) {
	a, b := connPair(t)
	tests := []struct {
		name string
		msg  Message
	}{
		{"request", Message{Version: Version, Op: OpPing}},
		{"reply with body", Message{Version: Version, Op: OpInfo, Body: json.RawMessage(`{"mount":"/x","pid":7}`)}},
		{"error reply", Message{Version: Version, Op: OpUmount, Error: "no"}},
		{"large body", Message{Version: Version, Op: "big", Body: json.RawMessage(`"` + strings.Repeat("x", 600<<10) + `"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := tt.msg
			errc := make(chan error, 1)
			go func() { errc <- Send(a, &sent, nil) }()
			got, files, err := Recv(b)
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(files) != 0 {
				t.Errorf("got %d files, want none", len(files))
			}
			if got.Version != tt.msg.Version || got.Op != tt.msg.Op || got.Error != tt.msg.Error || !bytes.Equal(got.Body, tt.msg.Body) {
				t.Errorf("got %+v, want %+v", got, tt.msg)
			}
		})
	}
}

func TestRecvEOFAndLimits(t *testing.T) {
	a, b := connPair(t)
	a.Close()
	if _, _, err := Recv(b); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after close: %v, want EOF", err)
	}

	a, b = connPair(t)
	a.Write([]byte{0xff, 0xff, 0xff, 0xff})
	if _, _, err := Recv(b); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Recv of an oversized frame: %v, want a size error", err)
	}

	a, b = connPair(t)
	a.Write([]byte{0, 0, 0, 10, '{'})
	a.Close()
	if _, _, err := Recv(b); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Recv of a cut frame: %v, want ErrUnexpectedEOF", err)
	}

	a, b = connPair(t)
	a.Write([]byte{0, 0, 0, 3, 'n', 'o', 't'})
	if _, _, err := Recv(b); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("Recv of bad JSON: %v, want a decode error", err)
	}
}

func TestSendRecvFiles(t *testing.T) {
	a, b := connPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	if err := Send(a, &Message{Version: Version, Op: "listener"}, []*os.File{w, r}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m, files, err := Recv(b)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	defer closeAll(files)
	if m.Files != 2 || len(files) != 2 {
		t.Fatalf("got %d files (announced %d), want 2", len(files), m.Files)
	}
	// The received write end is the same pipe: what goes in comes out of
	// the original read end, and the other way round.
	if _, err := files[0].Write([]byte("hello")); err != nil {
		t.Fatalf("write to received pipe: %v", err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v; want hello", buf, err)
	}
	w.Write([]byte("back"))
	buf = buf[:4]
	if _, err := io.ReadFull(files[1], buf); err != nil || string(buf) != "back" {
		t.Fatalf("read %q, %v from received read end; want back", buf, err)
	}
	flags, err := unix.FcntlInt(files[0].Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd flags %#x, %v: want FD_CLOEXEC", flags, err)
	}

	tooMany := make([]*os.File, MaxFiles+1)
	for i := range tooMany {
		tooMany[i] = r
	}
	if err := Send(a, &Message{Version: Version}, tooMany); err == nil {
		t.Errorf("Send with %d files succeeded", len(tooMany))
	}
}
