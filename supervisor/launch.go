package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"unsafe"

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

	sock   *os.File
	filter []unix.SockFilter // LaunchOptions.Filter, for Install
	gone   bool              // Abort ran
}

// LaunchOptions configure Start.
type LaunchOptions struct {
	// Self is the program and leading arguments of the launcher child
	// (a binary linking this package, whose launch_child.c takes over):
	// by default this executable with ChildArg.
	Self []string
	// Stdin, Stdout and Stderr default to this process's.
	Stdin          *os.File
	Stdout, Stderr *os.File
	Env            []string // nil: this process's environment
	Dir            string
	// Filter replaces the program BuildFilter makes (benchmarks of the
	// bare round trip install one that notifies a single syscall).
	Filter []unix.SockFilter
}

// Why a second process: a filter installed without TSYNC belongs to the one
// thread that installed it, and a process forked from that thread inherits
// it, so the command could be forked from a filtered thread of this process.
// That deadlocks when this process also serves the listener (embedded run,
// tests): Go forks with CLONE_VFORK from a raw syscall that keeps its P, the
// command's execve is notified (credential cache), and a garbage
// collector's stop-the-world then waits for that P while the notification
// waits for the stopped supervisor. The second process costs little: its
// work is done by a C constructor (launch_child.c) before the Go runtime
// starts.
//
// Start re-executes this program as the launcher child for argv: the child
// installs the filter, hands its listener back over a socketpair
// (SCM_RIGHTS) and waits for Go before it execve()s argv. The child stays in
// this process group, so it keeps the terminal and the foreground. The
// reserved range lies under the soft RLIMIT_NOFILE this process started
// with, which is the one the command gets (see startNofile).
func Start(argv []string, opts LaunchOptions) (*Target, error) {
	t, err := Spawn(argv, opts)
	if err != nil {
		return nil, err
	}
	if err := t.Install(); err != nil {
		if errors.Is(err, errChildExited) {
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
func Spawn(argv []string, opts LaunchOptions) (*Target, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to run")
	}
	soft, ok := startNofile()
	if !ok {
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return nil, fmt.Errorf("getrlimit: %w", err)
		}
		soft = rl.Cur
	}
	base, size := ReservedRange(soft)
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
	cmd.Dir = opts.Dir
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		parent.Close()
		child.Close()
		return nil, fmt.Errorf("start %s: %w", self[0], err)
	}
	child.Close()
	return &Target{Cmd: cmd, Base: base, Size: size, sock: parent, filter: opts.Filter}, nil
}

// Install sends the child its filter (BuildFilter's, unless
// LaunchOptions.Filter gave one) and receives the listener into
// t.Listener. When the child ended first (command not found, ...; it said
// why on its stderr) it returns ErrChildExited, and t.Cmd can be waited
// for; on other errors the child is gone.
func (t *Target) Install() error {
	fail := func(err error) error {
		t.Abort()
		return err
	}
	exited := func() error {
		t.sock.Close()
		return errChildExited
	}
	prog := t.filter
	if prog == nil {
		var err error
		if prog, err = BuildFilter(t.Base); err != nil {
			return fail(fmt.Errorf("build filter: %w", err))
		}
	}
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fail(fmt.Errorf("filter of %d instructions", len(prog)))
	}
	fd := int(t.sock.Fd())
	b := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*int(unsafe.Sizeof(prog[0])))
	if _, err := unix.Write(fd, b); err != nil {
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

// errChildExited reports that the child ended before handing over a
// listener; Target.Cmd can still be waited for its status.
var errChildExited = errors.New("child exited before installing the filter")

// ErrChildExited is errChildExited, for callers that want the child's status.
var ErrChildExited = errChildExited

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
