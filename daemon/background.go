package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/control"
)

// 'btfuse mount -d' starts the daemon as a child of its own, detached
// (a new session, stdin /dev/null, SIGHUP ignored), and returns once the
// child says that its mount and control socket answer, or with the
// child's error. The child is told over a pipe (Config.Ready): one line,
// "ready" or "error: MESSAGE", then the pipe is closed. A child that dies
// before it writes closes the pipe all the same (its end is the only one
// left), so the parent never waits for a dead child.

// ReadyFD is the descriptor number of the readiness pipe in the child.
const ReadyFD = 3

// BackgroundConfig configures Background.
type BackgroundConfig struct {
	// Args are the child's arguments after the program name: a
	// 'btfuse mount' and its flags, without -d and the directory.
	// Background adds --ready-fd, --log and the directory.
	Args []string
	// Dir is the mount point.
	Dir string
	// Log is the log file; "" means the journal when stderr is the
	// journal (JOURNAL_STREAM), otherwise DefaultLog.
	Log string
	// Stdout gets the "serving" line; nil means os.Stdout.
	Stdout io.Writer
	// RuntimeDir is the registry directory; "" means control.DefaultDir.
	RuntimeDir string
}

// DefaultLog is the log file of a background daemon serving mount (a
// canonical path): in the logs directory of the registry, named after the
// registry key, since the mount path may hold any byte.
func DefaultLog(reg *control.Registry, mount string) string {
	return filepath.Join(reg.Dir(), "logs", control.Key(mount)+".log")
}

// Background starts the daemon that cfg.Args describe in the background
// and waits until it serves (or fails, or ctx ends: the child is then
// stopped).
func Background(ctx context.Context, cfg BackgroundConfig) error {
	stdout, _ := writers(cfg.Stdout, nil)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the btfuse binary: %w", err)
	}
	mount, err := control.Canonical(cfg.Dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", cfg.Dir, err)
	}
	args := append([]string{}, cfg.Args...)
	args = append(args, fmt.Sprintf("--ready-fd=%d", ReadyFD))
	logName := cfg.Log
	var out *os.File // the child's stdout and stderr
	if logName == "" && journalStderr() {
		out, logName = os.Stderr, "the journal"
	} else {
		if logName == "" {
			reg, err := openRegistry(cfg.RuntimeDir)
			if err != nil {
				return err
			}
			logName = DefaultLog(reg, mount)
			if err := os.MkdirAll(filepath.Dir(logName), 0o700); err != nil {
				return fmt.Errorf("log directory: %w", err)
			}
		}
		if logName, err = filepath.Abs(logName); err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		if out, err = openLog(logName); err != nil {
			return err
		}
		defer out.Close()
		args = append(args, "--log="+logName)
	}
	args = append(args, "--", cfg.Dir)
	// What the child writes from here on, for a child that dies without
	// a word on the pipe (a crash, or an error before it could use it).
	logStart, _ := out.Seek(0, io.SeekEnd)
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
	cmd.ExtraFiles = []*os.File{pw} // descriptor 3 = ReadyFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close() // the child holds the only write end now
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(io.LimitReader(pr, 64<<10)).ReadString(0)
		line <- s
	}()
	var msg string
	select {
	case msg = <-line:
	case <-ctx.Done():
		cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		return fmt.Errorf("interrupted while the daemon for %s was starting; it was stopped", mount)
	}
	msg = strings.TrimSpace(msg)
	switch {
	case msg == "ready":
		fmt.Fprintf(stdout, "btfuse: serving %s in the background (pid %d, log in %s); stop it with 'btfuse umount %s'\n",
			mount, cmd.Process.Pid, logName, mount)
		return nil
	case strings.HasPrefix(msg, "error: "):
		<-exited
		return errors.New(strings.TrimPrefix(msg, "error: "))
	}
	// No word from the child: it died, or closed the pipe by mistake.
	select {
	case err := <-exited:
		if err == nil {
			err = errors.New("exited with status 0")
		}
		said := ""
		if out != os.Stderr {
			b := make([]byte, 4096)
			n, _ := out.ReadAt(b, logStart)
			if s := strings.TrimSpace(string(b[:n])); s != "" {
				said = ": " + s
			}
		}
		return fmt.Errorf("the daemon for %s stopped before it was ready (%v; log in %s)%s", mount, err, logName, said)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the daemon for %s (pid %d) closed its readiness pipe without a word; see %s", mount, cmd.Process.Pid, logName)
	}
}

// ready tells the parent of a background daemon that in serves.
func (cfg *Config) ready(*instance) {
	if cfg.Ready == nil {
		return
	}
	io.WriteString(cfg.Ready, "ready\n")
	cfg.Ready.Close()
	cfg.Ready = nil
}

// notReady tells the parent of a background daemon why it cannot serve.
func (cfg *Config) notReady(err error) {
	if cfg.Ready == nil {
		return
	}
	io.WriteString(cfg.Ready, "error: "+strings.ReplaceAll(err.Error(), "\n", " ")+"\n")
	cfg.Ready.Close()
	cfg.Ready = nil
}

// journalStderr reports whether stderr is connected to the systemd
// journal: systemd sets JOURNAL_STREAM to the device and inode of the
// stream it connects, which a redirection elsewhere no longer matches
// (systemd.exec(5)).
func journalStderr() bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(2, &st); err != nil {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
