package launcher

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// MountEnv names the variable through which a command learns where the
// filesystem it is supervised for is mounted.
const MountEnv = "BTFUSE_MOUNT"

// GoAndWait lets the child exec, forwards SIGINT, SIGTERM and SIGHUP to
// it and returns its status (Wait). SIGINT is forwarded only when this
// process is not in the terminal's foreground group: from the terminal the
// command got its own.
func (t *Target) GoAndWait() (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := t.Go(); err != nil {
		t.Abort()
		return 1, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGINT && inForeground() {
					continue
				}
				t.Cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	code := t.Wait()
	close(done)
	return code, nil
}

func inForeground() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// Wait waits for the command and returns its status the way a shell shows
// it: the exit code, or 128+N when signal N killed it.
func (t *Target) Wait() int {
	err := t.Cmd.Wait()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
