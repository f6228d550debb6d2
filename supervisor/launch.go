package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ChildEnv marks a process started by Start as the launcher child; its
// value is the descriptor of the socket to the parent.
const ChildEnv = "BTFUSE_SUPERVISED_CHILD"

// ChildArg is the hidden subcommand the launcher runs the btfuse binary
// with; cmd/btfuse registers it, and IsChild recognises it early.
const ChildArg = "__child"

// Target is a supervised command, started and stopped at the go-ahead.
type Target struct {
	Cmd *exec.Cmd
	// Listener is the notify fd of its filter; the caller hands it to a
	// Supervisor (Serve) or to a daemon, then calls Go.
	Listener *os.File
	// Base and Size are the reserved descriptor range the filter uses.
	Base, Size int

	sock *os.File
}

// LaunchOptions configure Start.
type LaunchOptions struct {
	// Self is the program and leading arguments that run ChildMain: by
	// default this executable with ChildArg.
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
// it, so forking the command from a filtered thread of this process would
// save the child's Go start-up (measured: 'btfuse run --mount M /bin/true'
// 55 -> 38 ms). It deadlocks when this process also serves the listener
// (embedded run, tests): Go forks with CLONE_VFORK from a raw syscall that
// keeps its P, the command's execve is notified (credential cache), and a
// garbage collector's stop-the-world then waits for that P while the
// notification waits for the stopped supervisor.
//
// Start re-executes this program as the launcher child for argv: the child
// installs the filter, hands its listener back over a socketpair
// (SCM_RIGHTS) and waits for Go before it execve()s argv from the same
// thread. The child stays in this process group, so it keeps the terminal
// and the foreground.
func Start(argv []string, opts LaunchOptions) (*Target, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to run")
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return nil, fmt.Errorf("getrlimit: %w", err)
	}
	base, size := ReservedRange(rl.Cur)
	prog := opts.Filter
	if prog == nil {
		var err error
		if prog, err = BuildFilter(base); err != nil {
			return nil, fmt.Errorf("build filter: %w", err)
		}
	}
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
	t := &Target{Cmd: cmd, Base: base, Size: size, sock: parent}
	fail := func(err error) (*Target, error) {
		parent.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*int(unsafe.Sizeof(prog[0])))
	if _, err := unix.Write(fds[0], b); err != nil {
		return fail(fmt.Errorf("send filter to child: %w", err))
	}
	buf := make([]byte, 512)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, unix.MSG_CMSG_CLOEXEC)
	if errors.Is(err, unix.ECONNRESET) {
		n, err = 0, nil
	}
	if err != nil {
		return fail(fmt.Errorf("receive listener: %w", err))
	}
	if n == 0 {
		// The child exited first (command not found, ...): it said why.
		parent.Close()
		return t, errChildExited
	}
	if buf[0] != 'L' {
		return fail(fmt.Errorf("install filter: %s", buf[1:n]))
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fail(errors.New("receive listener: no descriptor"))
	}
	lfds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(lfds) != 1 {
		return fail(errors.New("receive listener: no descriptor"))
	}
	t.Listener = os.NewFile(uintptr(lfds[0]), "seccomp-listener")
	return t, nil
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

// Abort kills a child that never got the go-ahead.
func (t *Target) Abort() {
	t.sock.Close()
	if t.Listener != nil {
		t.Listener.Close()
	}
	t.Cmd.Process.Kill()
	t.Cmd.Wait()
}

// IsChild reports whether this process is a launcher child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// ChildMain is the launcher child: it never returns. It runs on one locked
// thread: the filter is installed on that thread only (no TSYNC), and
// execve() from it makes the new program inherit the filter.
func ChildMain() {
	runtime.LockOSThread()
	sockFd, err := strconv.Atoi(os.Getenv(ChildEnv))
	if err != nil {
		childDie(-1, 126, "bad "+ChildEnv)
	}
	os.Unsetenv(ChildEnv)
	unix.CloseOnExec(sockFd)
	args := os.Args
	i := 0
	for i < len(args) && args[i] != "--" {
		i++
	}
	if i+1 >= len(args) {
		childDie(sockFd, 126, "no command")
	}
	argv := args[i+1:]
	path, err := exec.LookPath(argv[0])
	if err != nil {
		code := 127
		if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
			code = 126
		}
		childDie(sockFd, code, fmt.Sprintf("%s: %v", argv[0], err))
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Read(sockFd, buf)
	if err != nil || n == 0 || n%8 != 0 {
		childDie(sockFd, 126, "no filter from parent")
	}
	prog := progFromBytes(buf[:n])
	if os.Geteuid() != 0 {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			childSay(sockFd, "no_new_privs: "+err.Error())
			childDie(-1, 126, "")
		}
	}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	lfd, e := installFilter(prog, flags)
	if e == unix.EINVAL {
		// Linux < 5.19: no WAIT_KILLABLE_RECV.
		lfd, e = installFilter(prog, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	}
	if e != 0 {
		childSay(sockFd, "seccomp: "+e.Error())
		childDie(-1, 126, "")
	}
	rights := unix.UnixRights(lfd)
	if err := unix.Sendmsg(sockFd, []byte{'L'}, rights, nil, 0); err != nil {
		childDie(-1, 126, "send listener: "+err.Error())
	}
	unix.Close(lfd)
	var g [1]byte
	for {
		n, err := unix.Read(sockFd, g[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 1 || g[0] != 'G' {
			os.Exit(126) // the parent gave up
		}
		break
	}
	unix.Close(sockFd)
	err = unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "btfuse run: %s: %v\n", argv[0], err)
	if errors.Is(err, unix.ENOENT) {
		os.Exit(127)
	}
	os.Exit(126)
}

func childSay(sock int, msg string) {
	if sock >= 0 {
		unix.Write(sock, append([]byte{'E'}, msg...))
	}
}

func childDie(sock, code int, msg string) {
	if msg != "" {
		fmt.Fprintf(os.Stderr, "btfuse run: %s\n", msg)
	}
	if sock >= 0 {
		unix.Close(sock)
	}
	os.Exit(code)
}
