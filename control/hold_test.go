package control

import (
	"context"
	"net"
	"path/filepath"
	"testing"
)

// TestHold: a reply with Hold keeps the connection open until Hold
// yields, and the client gets the text in the hang-up message; Close
// says it is shutting down on the held connections left; a connection
// that ends without that message means the daemon died.
func TestHold(t *testing.T) {
	s := startServer(t)
	holds := make(chan chan string, 2)
	s.Handle("hold", func(context.Context, *Request) (Reply, error) {
		h := make(chan string, 1)
		holds <- h
		return Reply{Hold: h}, nil
	})
	s.Start()
	ctx := testCtx(t)

	c := dial(t, s.Path())
	if _, err := c.Call(ctx, "hold", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	(<-holds) <- "served"
	if why, gone, err := c.WaitHangup(ctx); err != nil || gone || why != "served" {
		t.Errorf("WaitHangup = %q, gone %v, %v; want \"served\"", why, gone, err)
	}

	c2 := dial(t, s.Path())
	if _, err := c2.Call(ctx, "hold", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	<-holds
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	if why, gone, err := c2.WaitHangup(ctx); err != nil || gone || why != "the daemon is shutting down" {
		t.Errorf("WaitHangup after Close = %q, gone %v, %v", why, gone, err)
	}
	<-closed
}

// TestHoldGone: a connection that ends without the hang-up message (the
// daemon died) is reported as gone.
func TestHoldGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		if m, files, err := Recv(conn); err == nil {
			closeAll(files)
			Send(conn, &Message{Version: Version, Op: m.Op}, nil)
		}
	}()
	ctx := testCtx(t)
	c := dial(t, path)
	if _, err := c.Call(ctx, "hold", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if why, gone, err := c.WaitHangup(ctx); err != nil || !gone || why != "" {
		t.Errorf("WaitHangup = %q, gone %v, %v; want gone", why, gone, err)
	}
}
