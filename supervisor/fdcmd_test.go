package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/launcher"
)

// fdCmdHelper runs descriptor calls on command, one command a line on
// stdin and one answer a line on stdout, so that a test can interleave
// processes (POSIX locks belong to processes) or act between two calls of
// one. Paths are relative to dir.
//
//	open NAME              -> fd N
//	close FD               -> ok
//	setlk FD r|w|u START LEN, setlkw ..., getlk ... (fcntl F_SETLK/F_SETLKW/F_GETLK)
//	flock FD sh|ex|un[nb]  -> ok or the errno's name
//	write FD N             -> ok (N bytes appended)
//	dup2 FD NEWFD          -> ok
//	pid
func fdCmdHelper(dir string) int {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		fmt.Println(fdCmdDo(dir, f))
	}
	return 0
}

func fdCmdDo(dir string, f []string) string {
	errStr := func(err error) string {
		if err == nil {
			return "ok"
		}
		var e unix.Errno
		if errors.As(err, &e) {
			return unix.ErrnoName(e)
		}
		return err.Error()
	}
	num := func(i int) int64 {
		if i >= len(f) {
			return 0
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return n
	}
	switch f[0] {
	case "pid":
		return strconv.Itoa(os.Getpid())
	case "open":
		fd, err := unix.Open(filepath.Join(dir, f[1]), unix.O_RDWR|unix.O_APPEND, 0)
		if err != nil {
			return errStr(err)
		}
		return "fd " + strconv.Itoa(fd)
	case "close":
		return errStr(unix.Close(int(num(1))))
	case "dup2":
		return errStr(unix.Dup2(int(num(1)), int(num(2))))
	case "write":
		_, err := unix.Write(int(num(1)), make([]byte, num(2)))
		return errStr(err)
	case "setlk", "setlkw", "getlk":
		lk := unix.Flock_t{Start: num(3), Len: num(4)}
		switch f[2] {
		case "r":
			lk.Type = unix.F_RDLCK
		case "w":
			lk.Type = unix.F_WRLCK
		default:
			lk.Type = unix.F_UNLCK
		}
		cmd := map[string]int{"setlk": unix.F_SETLK, "setlkw": unix.F_SETLKW, "getlk": unix.F_GETLK}[f[0]]
		err := unix.FcntlFlock(uintptr(num(1)), cmd, &lk)
		if err != nil || f[0] != "getlk" {
			return errStr(err)
		}
		if lk.Type == unix.F_UNLCK {
			return "unlck"
		}
		t := "wrlck"
		if lk.Type == unix.F_RDLCK {
			t = "rdlck"
		}
		return fmt.Sprintf("%s %d %d pid %d", t, lk.Start, lk.Len, lk.Pid)
	case "flock":
		op := map[string]int{"sh": unix.LOCK_SH, "ex": unix.LOCK_EX, "un": unix.LOCK_UN}[strings.TrimSuffix(f[2], "nb")]
		if strings.HasSuffix(f[2], "nb") {
			op |= unix.LOCK_NB
		}
		return errStr(unix.Flock(int(num(1)), op))
	}
	return "bad command"
}

// fdProc is a running fdCmdHelper.
type fdProc struct {
	name string
	in   io.WriteCloser
	out  chan string
	pid  string
	wait func()
}

// startFdProc starts a fdCmdHelper on dir: under the supervisor when run
// is set, else as a plain process (through the FUSE door when dir is in
// the mount).
func (s *supervised) startFdProc(t *testing.T, name, dir string, run bool) *fdProc {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BTFUSE_TEST_HELPER=fdcmd", MountEnv+"="+dir)
	l := &fdProc{name: name, in: inW, out: make(chan string, 16)}
	if run {
		tg, served := startServed(t, []string{os.Args[0]},
			launcher.Options{Self: []string{os.Args[0]}, Stdin: inR, Stdout: outW, Env: env}, s.serve(t))
		l.wait = func() {
			tg.Wait()
			served()
		}
	} else {
		cmd := exec.Command(os.Args[0])
		cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, inR, outW, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		l.wait = func() { cmd.Wait() }
	}
	inR.Close()
	outW.Close()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			l.out <- sc.Text()
		}
		close(l.out)
		outR.Close()
	}()
	t.Cleanup(func() {
		l.in.Close()
		l.wait()
	})
	l.pid = l.do(t, "pid")
	return l
}

// send sends a command without waiting for its answer.
func (l *fdProc) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := fmt.Fprintln(l.in, cmd); err != nil {
		t.Fatalf("%s: %s: %v", l.name, cmd, err)
	}
}

// answer waits for the next answer, or reports "(waiting)" after d.
func (l *fdProc) answer(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case a, ok := <-l.out:
		if !ok {
			t.Fatalf("%s exited", l.name)
		}
		return a
	case <-time.After(d):
		return "(waiting)"
	}
}

func (l *fdProc) do(t *testing.T, cmd string) string {
	t.Helper()
	l.send(t, cmd)
	a := l.answer(t, 30*time.Second)
	if a == "(waiting)" {
		t.Fatalf("%s: %s: no answer", l.name, cmd)
	}
	return a
}
