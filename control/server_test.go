package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestMain lets the test binary play a control client under another uid
// (see TestPeerCredRefused).
func TestMain(m *testing.M) {
	if sock := os.Getenv("BTFUSE_CONTROL_TEST_CLIENT"); sock != "" {
		c, err := Dial(context.Background(), sock)
		if err == nil {
			_, err = c.Call(context.Background(), OpPing, nil, nil, nil)
		}
		if err != nil {
			os.Stdout.WriteString(err.Error())
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServer listens on a socket in a fresh directory and closes the server
// at cleanup.
func startServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := Listen(filepath.Join(tb.TempDir(), "c.sock"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func dial(tb testing.TB, path string) *Client {
	tb.Helper()
	c, err := Dial(context.Background(), path)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestServerOps(t *testing.T) {
	s := startServer(t)
	s.Handle(OpInfo, func(ctx context.Context, req *Request) (Reply, error) {
		return Reply{Body: Info{Mount: "/m", PID: os.Getpid()}}, nil
	})
	s.Handle("fail", func(ctx context.Context, req *Request) (Reply, error) {
		return Reply{}, errors.New("it failed")
	})
	s.Handle("panic", func(ctx context.Context, req *Request) (Reply, error) {
		panic("boom")
	})
	s.Start()
	fi, err := os.Stat(s.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	ctx := testCtx(t)
	c := dial(t, s.Path())

	var pong struct{ PID int }
	if _, err := c.Call(ctx, OpPing, nil, nil, &pong); err != nil || pong.PID != os.Getpid() {
		t.Errorf("ping: %+v, %v", pong, err)
	}
	var info Info
	if _, err := c.Call(ctx, OpInfo, nil, nil, &info); err != nil || info.Mount != "/m" {
		t.Errorf("info: %+v, %v", info, err)
	}
	tests := []struct {
		op, want string
	}{
		{"nosuchop", `unknown op "nosuchop" (this daemon knows fail, info, panic, ping)`},
		{"fail", "it failed"},
		{"panic", "internal error in panic handler"},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			_, err := c.Call(ctx, tt.op, nil, nil, nil)
			var re *RemoteError
			if !errors.As(err, &re) || re.Msg != tt.want {
				t.Errorf("got %v, want remote error %q", err, tt.want)
			}
		})
	}
	// The connection survives failed requests.
	if _, err := c.Call(ctx, OpPing, nil, nil, nil); err != nil {
		t.Errorf("ping after errors: %v", err)
	}
}

func TestServerVersionMismatch(t *testing.T) {
	s := startServer(t)
	s.Start()
	c := dial(t, s.Path())
	if err := Send(c.conn, &Message{Version: Version + 1, Op: OpPing}, nil); err != nil {
		t.Fatal(err)
	}
	m, _, err := Recv(c.conn)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if m.Version != Version || !strings.Contains(m.Error, "unsupported control protocol version 2") {
		t.Errorf("reply %+v: want version %d and an error naming version 2", m, Version)
	}
	// A reply in another version is refused by the client too.
	a, b := connPair(t)
	go func() {
		Recv(b)
		Send(b, &Message{Version: 0, Op: OpPing}, nil)
	}()
	_, err = (&Client{conn: a}).Call(testCtx(t), OpPing, nil, nil, nil)
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Got != 0 {
		t.Errorf("client got %v, want VersionError for 0", err)
	}
}

func TestServerFilePassing(t *testing.T) {
	s := startServer(t)
	// The handler keeps the write end it is given and answers with a fresh
	// pipe's read end, as the supervised door will hand over its listener.
	s.Handle("swap", func(ctx context.Context, req *Request) (Reply, error) {
		if len(req.Files) != 1 {
			return Reply{}, errors.New("want one file")
		}
		defer req.Files[0].Close()
		req.Files[0].Write([]byte("to"))
		r, w, err := os.Pipe()
		if err != nil {
			return Reply{}, err
		}
		w.Write([]byte("fro"))
		w.Close()
		return Reply{Body: "ok", Files: []*os.File{r}}, nil
	})
	s.Start()
	c := dial(t, s.Path())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	files, err := c.Call(testCtx(t), "swap", nil, []*os.File{w}, nil)
	w.Close()
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	defer closeAll(files)
	if got, _ := io.ReadAll(r); string(got) != "to" {
		t.Errorf("handler wrote %q through the passed fd, want to", got)
	}
	if len(files) != 1 {
		t.Fatalf("reply carried %d files, want 1", len(files))
	}
	if got, _ := io.ReadAll(files[0]); string(got) != "fro" {
		t.Errorf("read %q from the returned fd, want fro", got)
	}
}

func TestServerCloseEndsClients(t *testing.T) {
	s := startServer(t)
	s.Start()
	c := dial(t, s.Path())
	if _, err := c.Call(testCtx(t), OpPing, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitClosed(testCtx(t)) }()
	s.Close()
	if err := <-done; err != nil {
		t.Errorf("WaitClosed: %v", err)
	}
	if _, err := os.Stat(s.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestDefaultAllow(t *testing.T) {
	allow := defaultAllow(1000)
	for _, tt := range []struct {
		uid  uint32
		want bool
	}{{0, true}, {1000, true}, {1001, false}, {65534, false}} {
		if got := allow(unix.Ucred{Uid: tt.uid}); got != tt.want {
			t.Errorf("allow(uid %d) = %v, want %v", tt.uid, got, tt.want)
		}
	}
}

// TestPeerCredRefused runs a real client as nobody against a root daemon
// whose socket it can reach: SO_PEERCRED must turn it away with a reason.
func TestPeerCredRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.SkipOrFail(t, "running a client as another user needs root")
	}
	dir, err := os.MkdirTemp("", "btfuse-peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	s, err := Listen(filepath.Join(dir, "c.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Start()
	// Only for this test: let the file permissions through so that the
	// credential check is what refuses.
	os.Chmod(s.Path(), 0o666)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(uid uint32) (string, error) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"BTFUSE_CONTROL_TEST_CLIENT=" + s.Path()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.Output()
		return string(out), err
	}
	out, err := run(65534)
	if err == nil || !strings.Contains(out, "permission denied: uid 65534 may not control this daemon") {
		t.Errorf("client as uid 65534: %v, output %q; want a refusal", err, out)
	}
	if out, err := run(0); err != nil {
		t.Errorf("client as root: %v, output %q", err, out)
	}
}
