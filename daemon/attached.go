package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/launcher"
	"github.com/btfuse/btfuse/supervisor"
)

// ExitDaemonLost is the exit status of 'btfuse run' when the daemon its
// command was handed to died, or stopped serving it, while the command
// ran: whatever the command's own status, part of its work under the
// mount failed or went elsewhere (and a dead daemon's files are gone).
// The command's own status is in the message on stderr. 125 is what env,
// timeout and container runners use for "the tool failed, not the
// command".
const ExitDaemonLost = 125

// attachment is what runAttached says about the daemon it hands the
// command to.
type attachment struct {
	mount  string
	pid    int
	pidfd  int // of the daemon, -1 if none
	stderr io.Writer
}

// exitWait bounds how long a takeover waits for a daemon whose
// connection ended to finish exiting.
const exitWait = 2 * time.Second

// runAttached hands t's listener to the daemon behind client, lets the
// command exec and returns its exit status.
//
// It keeps a copy of the listener and passes a notification board along
// with it. While the daemon serves, the copy does nothing. The daemon
// holds the control connection open for as long as it serves the
// listener, so the connection ends when the daemon dies or stops serving
// (watchDaemon); if the command still runs then, this process takes the
// listener over and lets the kernel run every call (supervisor.TakeOver):
// without that, every notified call of the command, execve included,
// would fail with ENOSYS once no listener was left, or wait forever while
// this copy stayed open.
func runAttached(ctx context.Context, client *control.Client, t *launcher.Target, args control.SuperviseArgs, a attachment) (int, error) {
	if err := t.Install(); err != nil {
		if errors.Is(err, launcher.ErrChildExited) {
			return t.Wait(), nil
		}
		return 1, err
	}
	board, err := supervisor.NewBoard()
	if err != nil {
		t.Abort()
		return 1, err
	}
	defer board.Close()
	keep, err := unix.FcntlInt(t.Listener.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Abort()
		return 1, fmt.Errorf("copy the listener: %w", err)
	}
	args.Base, args.Size = t.Base, t.Size
	if _, err := client.Call(ctx, control.OpSupervise, args, []*os.File{t.Listener, board.File()}, nil); err != nil {
		unix.Close(keep)
		t.Abort()
		return 1, fmt.Errorf("hand the command to the daemon: %w", err)
	}
	t.Listener.Close()
	t.Listener = nil

	w := &watch{a: a, fd: keep, board: board, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(client)
	code, err := t.GoAndWait()
	lost := w.finish()
	if err != nil || !lost {
		return code, err
	}
	fmt.Fprintf(a.stderr, "btfuse run: the command exited with status %d; exit status %d because the daemon serving %s was lost while it ran (%d calls left to the kernel after that, %d of them received by the daemon and never answered)\n",
		code, ExitDaemonLost, a.mount, w.continued, w.pending)
	return ExitDaemonLost, nil
}

// watch waits for the end of the daemon's service and takes over.
type watch struct {
	a     attachment
	fd    int // this process's copy of the listener
	board *supervisor.Board
	stop  chan struct{} // closed when the command has exited
	done  chan struct{} // closed when run has returned

	mu       sync.Mutex
	finished bool // the command has exited; guarded by mu
	lost     bool // the daemon was lost while it ran; guarded by mu

	continued, pending uint64 // TakeOver's counts, read after done
}

// run waits until the daemon ends the connection. If processes still use
// the listener then, the daemon was lost under them: say so and continue
// their calls until the command exits.
func (w *watch) run(client *control.Client) {
	defer close(w.done)
	why, gone, err := client.WaitHangup(context.Background())
	w.mu.Lock()
	if w.finished || hungUp(w.fd) {
		// The command has exited (the connection was closed for
		// returning, or the daemon saw the last process go).
		w.mu.Unlock()
		return
	}
	w.lost = true
	w.mu.Unlock()
	if gone && w.a.pidfd >= 0 {
		// A dying process closes its descriptors one by one: the control
		// connection may end before its FUSE device does, and a call
		// continued in between reaches a live connection that is then
		// aborted under it (ECONNABORTED, the answer a FUSE-door caller
		// in flight gets). Once the process has exited, the mount is
		// dead, and a continued call gets the answer of a dead mount
		// (ENOTCONN). A daemon stuck exiting is not waited for long.
		pfd := []unix.PollFd{{Fd: int32(w.a.pidfd), Events: unix.POLLIN}}
		for deadline := time.Now().Add(exitWait); time.Now().Before(deadline); {
			if _, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds())+1); err != unix.EINTR {
				break
			}
		}
	}
	switch {
	case gone || err != nil:
		fmt.Fprintf(w.a.stderr, "btfuse run: the daemon (pid %d) serving %s died while the command ran; its calls go to the kernel from now on: under %s they fail (ENOTCONN, transport endpoint is not connected: the mount is dead; 'btfuse umount %s' clears it) and what was written there is lost; elsewhere they work as usual\n",
			w.a.pid, w.a.mount, w.a.mount, w.a.mount)
	default:
		fmt.Fprintf(w.a.stderr, "btfuse run: the daemon (pid %d) serving %s stopped serving the command (%s); its calls go to the kernel from now on, under %s to whatever is mounted there\n",
			w.a.pid, w.a.mount, why, w.a.mount)
	}
	w.continued, w.pending = supervisor.TakeOver(w.fd, w.board, w.stop)
}

// finish is called once the command has exited: it stops a takeover and
// reports whether the daemon was lost while the command ran. The board
// and the listener copy are released once the watch no longer uses them.
func (w *watch) finish() bool {
	w.mu.Lock()
	w.finished = true
	lost := w.lost
	w.mu.Unlock()
	close(w.stop)
	if lost {
		<-w.done // TakeOver returns within its poll period
	}
	unix.Close(w.fd)
	return lost
}

// hungUp reports whether no process uses the listener fd any more.
func hungUp(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&unix.POLLHUP != 0
}
