// Package launcher starts a command under a seccomp filter with user
// notification and hands its listener to whoever serves it: the launcher
// half of 'btfuse run'.
//
// The command is not forked from this process. Start re-executes the
// program (this executable with ChildArg, or Options.Self) as a
// launcher child, whose work a C constructor (launch_child.c) does before
// the Go runtime starts: it reads the filter from a socketpair, installs
// it with SECCOMP_FILTER_FLAG_NEW_LISTENER, sends the listener back
// (SCM_RIGHTS), waits for the go-ahead byte and execve()s the command. A
// binary that can be re-executed as the child must link this package; the
// constructor does nothing unless ChildEnv is set.
//
// Invariants:
//   - The command never runs before its listener is served: the child is
//     filtered from the moment it installs the filter, and execs only at Go.
//   - The reserved descriptor range lies under the soft RLIMIT_NOFILE the
//     command gets, which is the one this process started with, not the
//     one the Go runtime raised it to (startNofile).
//   - A child that never gets the go-ahead never runs the command: Abort
//     kills it, and Install does so itself on every error but
//     ErrChildExited (the child is gone already; wait for Cmd).
//
// The package sits beside package supervisor, not inside it, and imports
// nothing of btfuse: what the filter says is the caller's (Options.Range
// and Options.Build, supervisor.ReservedRange and supervisor.BuildFilter
// in btfuse), so supervisor serves listeners without linking the C child,
// and its tests can start targets through this package.
package launcher

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// ChildArg is the hidden subcommand the launcher runs the btfuse binary
// with, so that ps shows what the process is; launch_child.c takes over
// before it is parsed.
const ChildArg = "__child"

// Target is a supervised command, started and stopped at the go-ahead.
type Target struct {
	Cmd *exec.Cmd
	// Listener is the notify fd of its filter; the caller hands it to a
	// Supervisor (Serve) or to a daemon, then calls Go.
	Listener *os.File
	// Base and Size are the reserved descriptor range the filter uses.
	Base, Size int

	sock  *os.File
	build func(base int) ([]unix.SockFilter, error) // Options.Build, for Install
	gone  bool                                      // Abort ran
}

// Options configure Start.
type Options struct {
	// Self is the program and leading arguments of the launcher child
	// (a binary linking this package, whose launch_child.c takes over):
	// by default this executable with ChildArg.
	Self []string
	// Stdin, Stdout and Stderr default to this process's.
	Stdin          *os.File
	Stdout, Stderr *os.File
	Env            []string // nil: this process's environment
	Dir            string
	// Range picks the reserved descriptor range [base, base+size) under
	// the soft RLIMIT_NOFILE the command will run with. Required.
	Range func(soft uint64) (base, size int)
	// Preload is a library for the command's LD_PRELOAD (the fast lane's),
	// appended by the child only when the command is a dynamically linked
	// program that is not setuid, setgid or file-capable, or a script run
	// by one. The child itself does not load it. "" preloads nothing.
	Preload string
	// Build makes the filter for a reserved range that starts at base.
	// Required.
	Build func(base int) ([]unix.SockFilter, error)
}

// Start spawns the launcher child for argv and installs its filter: Spawn
// then Install.
//
// Why a second process: a filter installed without TSYNC belongs to the one
// thread that installed it, and a process forked from that thread inherits
// it, so the command could be forked from a filtered thread of this process.
// That deadlocks when this process also serves the listener (embedded run,
// tests): Go forks with CLONE_VFORK from a raw syscall that keeps its P, the
// command's execve is notified (credential cache), and a garbage
// collector's stop-the-world then waits for that P while the notification
// waits for the stopped supervisor. The second process costs little: its
// work is done by a C constructor before the Go runtime starts.
//
// The child stays in this process group, so it keeps the terminal and the
// foreground.
func Start(argv []string, opts Options) (*Target, error) {
	t, err := Spawn(argv, opts)
	if err != nil {
		return nil, err
	}
	if err := t.Install(); err != nil {
		if errors.Is(err, ErrChildExited) {
			return t, err
		}
		return nil, err
	}
	return t, nil
}

// Spawn is the first half of Start: it starts the launcher child and
// returns at once, so that the child loads while the caller finds its
// daemon or mounts (the child waits for its filter). Install is the
// second half.
func Spawn(argv []string, opts Options) (*Target, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to run")
	}
	if opts.Range == nil || opts.Build == nil {
		return nil, errors.New("launcher: Options.Range and Options.Build are required")
	}
	soft, ok := startNofile()
	if !ok {
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return nil, fmt.Errorf("getrlimit: %w", err)
		}
		soft = rl.Cur
	}
	base, size := opts.Range(soft)
	self := opts.Self
	if len(self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		self = []string{exe, ChildArg}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "btfuse-launch")
	child := os.NewFile(uintptr(fds[1]), "btfuse-launch-child")
	cmd := exec.Command(self[0], append(append(append([]string(nil), self[1:]...), "--"), argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if opts.Stdin != nil {
		cmd.Stdin = opts.Stdin
	}
	if opts.Stdout != nil {
		cmd.Stdout = opts.Stdout
	}
	if opts.Stderr != nil {
		cmd.Stderr = opts.Stderr
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, ChildEnv+"=3")
	if opts.Preload != "" {
		cmd.Env = append(cmd.Env, PreloadEnv+"="+opts.Preload)
	}
	cmd.Dir = opts.Dir
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		parent.Close()
		child.Close()
		return nil, fmt.Errorf("start %s: %w", self[0], err)
	}
	child.Close()
	return &Target{Cmd: cmd, Base: base, Size: size, sock: parent, build: opts.Build}, nil
}

// Install sends the child its filter (Options.Build's for t.Base) and
// receives the listener into t.Listener. When the child ended first
// (command not found, ...; it said why on its stderr) it returns
// ErrChildExited, and t.Cmd can be waited for; on other errors the child
// is gone.
func (t *Target) Install() error {
	fail := func(err error) error {
		t.Abort()
		return err
	}
	exited := func() error {
		t.sock.Close()
		return ErrChildExited
	}
	prog, err := t.build(t.Base)
	if err != nil {
		return fail(fmt.Errorf("build filter: %w", err))
	}
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fail(fmt.Errorf("filter of %d instructions", len(prog)))
	}
	fd := int(t.sock.Fd())
	if _, err := unix.Write(fd, progBytes(prog)); err != nil {
		if err == unix.EPIPE || err == unix.ECONNRESET {
			return exited()
		}
		return fail(fmt.Errorf("send filter to child: %w", err))
	}
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if errors.Is(err, unix.ECONNRESET) {
		n, err = 0, nil
	}
	if err != nil {
		return fail(fmt.Errorf("receive listener: %w", err))
	}
	var lfds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for i := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				lfds = append(lfds, fds...)
			}
		}
	}
	if n == 0 || buf[0] != 'L' || len(lfds) != 1 {
		for _, fd := range lfds {
			unix.Close(fd)
		}
		switch {
		case n == 0:
			return exited()
		case buf[0] != 'L':
			return fail(fmt.Errorf("install filter: %s", buf[1:n]))
		}
		return fail(fmt.Errorf("receive listener: %d descriptors", len(lfds)))
	}
	t.Listener = os.NewFile(uintptr(lfds[0]), "seccomp-listener")
	return nil
}

// ErrChildExited reports that the child ended before handing over a
// listener; Target.Cmd can still be waited for its status.
var ErrChildExited = errors.New("child exited before installing the filter")

// Go lets the child execve() the command.
func (t *Target) Go() error {
	defer t.sock.Close()
	if _, err := t.sock.Write([]byte{'G'}); err != nil {
		return fmt.Errorf("go-ahead: %w", err)
	}
	return nil
}

// Abort kills a child that never got the go-ahead; a second call does
// nothing.
func (t *Target) Abort() {
	if t.gone {
		return
	}
	t.gone = true
	t.sock.Close()
	if t.Listener != nil {
		t.Listener.Close()
	}
	t.Cmd.Process.Kill()
	t.Cmd.Wait()
}
