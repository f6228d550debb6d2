package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// lockScript plays two processes against each other on one file, f, and
// returns the transcript with their pids named.
func lockScript(t *testing.T, a, b *fdProc) string {
	var out strings.Builder
	fds := map[string]string{}
	// Commands name descriptors by alias (A1, ...), numbered for real.
	numbered := func(cmd string) string {
		for k, v := range fds {
			cmd = strings.ReplaceAll(cmd, k, v)
		}
		return cmd
	}
	step := func(l *fdProc, cmd string) {
		t.Helper()
		fmt.Fprintf(&out, "%s: %s -> %s\n", l.name, cmd, l.do(t, numbered(cmd)))
	}
	// blocked sends cmd, which must wait until other's release ends it.
	blocked := func(l *fdProc, cmd string, other *fdProc, release string) {
		t.Helper()
		l.send(t, numbered(cmd))
		fmt.Fprintf(&out, "%s: %s -> %s\n", l.name, cmd, l.answer(t, 100*time.Millisecond))
		step(other, release)
		fmt.Fprintf(&out, "%s: ... -> %s\n", l.name, l.answer(t, 30*time.Second))
	}
	open := func(l *fdProc, as string) {
		t.Helper()
		ans := l.do(t, "open f")
		if !strings.HasPrefix(ans, "fd ") {
			t.Fatalf("%s: open f: %s", l.name, ans)
		}
		fds[as] = strings.TrimPrefix(ans, "fd ")
		fmt.Fprintf(&out, "%s: open f -> %s\n", l.name, as)
	}
	open(a, "A1")
	open(b, "B1")
	// POSIX locks: conflicts, F_GETLK, split by an unlock.
	step(a, "setlk A1 w 0 10")
	step(b, "setlk B1 w 5 10")
	step(b, "getlk B1 w 0 0")
	step(b, "setlk B1 r 10 5")
	step(a, "getlk A1 w 12 1")
	step(a, "setlk A1 u 0 5")
	step(b, "setlk B1 w 0 5")
	step(b, "setlk B1 w 5 1")
	// Closing any descriptor of the file drops all of the owner's locks.
	open(a, "A2")
	step(a, "close A2")
	step(b, "setlk B1 w 5 5")
	step(a, "getlk A1 r 0 0")
	// F_SETLKW waits until the holder's locks go (B closes its only fd).
	blocked(a, "setlkw A1 w 0 1", b, "close B1")
	// flock: per open file, no conflict with POSIX locks.
	open(b, "B2")
	step(a, "flock A1 ex")
	step(b, "flock B2 exnb")
	step(b, "flock B2 shnb")
	step(a, "flock A1 un")
	step(b, "flock B2 exnb")
	step(a, "flock A1 shnb")
	step(b, "flock B2 sh")
	step(a, "flock A1 shnb")
	blocked(a, "flock A1 ex", b, "close B2")
	s := out.String()
	s = strings.ReplaceAll(s, "pid "+a.pid, "pid A")
	return strings.ReplaceAll(s, "pid "+b.pid, "pid B")
}

// TestLocksAcrossDoors plays the same lock script between two processes on
// tmpfs, and on the mount with each process on either door: the FUSE door
// keeps its locks on the backing files (fuseserve's locks.go), where the
// supervised processes take theirs natively.
func TestLocksAcrossDoors(t *testing.T) {
	s := startSupervised(t)
	ref := testutil.TmpfsDir(t)
	for _, d := range []string{ref, s.mount} {
		if err := os.WriteFile(filepath.Join(d, "f"), make([]byte, 100), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	want := lockScript(t, s.startFdProc(t, "A", ref, false), s.startFdProc(t, "B", ref, false))
	if !strings.Contains(want, "pid A") || !strings.Contains(want, "(waiting)") {
		t.Fatalf("the reference transcript is not what the script is about:\n%s", want)
	}
	for _, c := range []struct {
		name       string
		runA, runB bool
	}{
		{"fuse-fuse", false, false},
		{"fuse-run", false, true},
		{"run-fuse", true, false},
		{"run-run", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := s.startFdProc(t, "A", s.mount, c.runA), s.startFdProc(t, "B", s.mount, c.runB)
			if got, exp := lockScript(t, a, b), withPidGap(want, c.runA, c.runB); got != exp {
				t.Errorf("transcript differs from tmpfs:\n%s", outputDiff(exp, got))
			}
		})
	}
}

// withPidGap turns the holder's pid into -1 where a supervised process
// asks (F_GETLK) about a lock of a process on the FUSE door. Known gap:
// the FUSE door's locks are OFD locks on the backing file, whose holder
// the kernel reports as -1, and a supervised F_GETLK is not notified.
func withPidGap(transcript string, runA, runB bool) string {
	lines := strings.Split(transcript, "\n")
	for i, l := range lines {
		switch {
		case runA && !runB && strings.HasPrefix(l, "A: getlk"):
			lines[i] = strings.Replace(l, "pid B", "pid -1", 1)
		case runB && !runA && strings.HasPrefix(l, "B: getlk"):
			lines[i] = strings.Replace(l, "pid A", "pid -1", 1)
		}
	}
	return strings.Join(lines, "\n")
}

// TestLockWaiterKilled: a process killed while its F_SETLKW waits on the
// FUSE door (which polls for the lock until the kernel interrupts the
// request) leaves no lock behind, whichever door holds the lock it waited
// for.
func TestLockWaiterKilled(t *testing.T) {
	s := startSupervised(t)
	if err := os.WriteFile(filepath.Join(s.mount, "f"), make([]byte, 10), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, holderRun := range []bool{false, true} {
		a := s.startFdProc(t, "A", s.mount, holderRun)
		b := s.startFdProc(t, "B", s.mount, false)
		fa, fb := strings.TrimPrefix(a.do(t, "open f"), "fd "), strings.TrimPrefix(b.do(t, "open f"), "fd ")
		if got := a.do(t, "setlk "+fa+" w 0 0"); got != "ok" {
			t.Fatalf("A: setlk: %s", got)
		}
		b.send(t, "setlkw "+fb+" w 0 0")
		if got := b.answer(t, 50*time.Millisecond); got != "(waiting)" {
			t.Fatalf("B did not wait: %s", got)
		}
		pid, _ := strconv.Atoi(b.pid)
		unix.Kill(pid, unix.SIGKILL)
		b.in.Close()
		for range b.out {
		}
		if got := a.do(t, "close "+fa); got != "ok" {
			t.Fatalf("A: close: %s", got)
		}
		time.Sleep(30 * time.Millisecond) // past a poll of the dead waiter
		c := s.startFdProc(t, "C", s.mount, false)
		fc := strings.TrimPrefix(c.do(t, "open f"), "fd ")
		if got := c.do(t, "setlk "+fc+" w 0 0"); got != "ok" {
			t.Errorf("holder on run %v: after the waiter was killed and the holder closed, setlk: %s", holderRun, got)
		}
		c.do(t, "close "+fc)
	}
}

// TestSqliteAcrossDoors: two sqlite3 processes, one under run and one
// through the FUSE door, insert into one database at the same time, one
// transaction per row. They exclude each other only if each sees the
// other's POSIX locks; then every row is there and the database is sound.
func TestSqliteAcrossDoors(t *testing.T) {
	testutil.RequireProgram(t, "sqlite3")
	s := startSupervised(t)
	db := filepath.Join(s.mount, "db")
	if out, err := exec.Command("sqlite3", db, "CREATE TABLE t(door TEXT, n INTEGER);").CombinedOutput(); err != nil {
		t.Fatalf("create: %v: %s", err, out)
	}
	const rows = 300
	inserts := func(door string) string {
		var b strings.Builder
		b.WriteString(".timeout 30000\n")
		for i := 0; i < rows; i++ {
			fmt.Fprintf(&b, "INSERT INTO t VALUES ('%s', %d);\n", door, i)
		}
		return b.String()
	}
	runDone := make(chan string, 1)
	go func() {
		code, out, errs := s.run(t, []string{"sh", "-c", `sqlite3 "$BTFUSE_MOUNT/db" < "$0"`, writeTemp(t, inserts("run"))})
		runDone <- fmt.Sprintf("exit %d %s%s", code, out, errs)
	}()
	fuse := exec.Command("sqlite3", db)
	fuse.Stdin = strings.NewReader(inserts("fuse"))
	fuseOut, fuseErr := fuse.CombinedOutput()
	if runRes := <-runDone; runRes != "exit 0 " {
		t.Errorf("sqlite3 under run: %s", runRes)
	}
	if fuseErr != nil {
		t.Errorf("sqlite3 through FUSE: %v: %s", fuseErr, fuseOut)
	}
	out, err := exec.Command("sqlite3", db, "SELECT door, count(*) FROM t GROUP BY door ORDER BY door; PRAGMA integrity_check;").CombinedOutput()
	want := fmt.Sprintf("fuse|%d\nrun|%d\nok\n", rows, rows)
	if err != nil || string(out) != want {
		t.Errorf("after both: %v\n%s\nwant\n%s", err, out, want)
	}
}

// writeTemp writes data to a new file outside the mount and returns its path.
func writeTemp(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
