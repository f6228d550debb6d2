package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/launcher"
)

// TestCrossedDescriptors runs testdata/crossfd.c under the supervisor with
// a soft RLIMIT_NOFILE of 1024: one thread opens, reads and closes a served
// file while another fills the descriptor table with pipes, through the
// reserved range, and closes half of them again. A served descriptor must
// never replace one of the target's own: no thread may find another's
// descriptor, or its content, behind a number it holds.
func TestCrossedDescriptors(t *testing.T) {
	testutil.RequireProgram(t, "gcc")
	bin := filepath.Join(t.TempDir(), "crossfd")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", bin, "../testdata/crossfd.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	s := startSupervised(t)
	const content = "served file content"
	f := filepath.Join(s.mount, "f")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	const soft = 1024
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "err"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	tg, wait := startServed(t, []string{bin, f, content, "2", fmt.Sprint(soft)}, launcher.Options{
		Self:   []string{os.Args[0]},
		Stdout: out, Stderr: errf,
		// The program lowers its soft limit to soft before its threads
		// start: the range must lie under that one.
		Range: func(uint64) (int, int) { return ReservedRange(soft) },
	}, s.serve(t))
	timer := time.AfterFunc(time.Minute, func() { tg.Cmd.Process.Kill() }) // hang guard
	code := tg.Wait()
	timer.Stop()
	wait()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	var missed, opens, pipes int
	if _, err := fmt.Sscanf(string(o), "misdirected %d opens %d pipes %d", &missed, &opens, &pipes); err != nil || code != 0 {
		t.Fatalf("crossfd: exit %d, output %q (%v), stderr:\n%s", code, o, err, e)
	}
	t.Logf("%d opens, %d pipes", opens, pipes)
	if missed != 0 {
		t.Errorf("%d misdirected descriptors; stderr:\n%s", missed, e)
	}
	if opens == 0 || pipes < soft/2 {
		t.Errorf("the threads did too little: %d opens, %d pipes", opens, pipes)
	}
}

// TestInheritedServedDescriptor: a child that inherits its parent's served
// descriptor finds it in its own range, where a probe meets it. It is a
// served file, not one of the child's own allocations: the child's next
// served open still gets a slot in the range, where fstat is served.
func TestInheritedServedDescriptor(t *testing.T) {
	testutil.RequireProgram(t, "python3")
	s := startSupervised(t)
	if err := os.WriteFile(filepath.Join(s.mount, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import os
p = os.path.join(os.environ["BTFUSE_MOUNT"], "f")
fd = os.open(p, os.O_RDONLY)
os.set_inheritable(fd, True)
pid = os.fork()
if pid == 0:
    g = os.open(p, os.O_RDONLY)
    a, b = os.fstat(g), os.stat(p)
    print(fd, g, a.st_dev == b.st_dev and a.st_ino == b.st_ino)
    os._exit(0)
os.waitpid(pid, 0)
`
	code, out, errs := s.run(t, []string{"python3", "-c", script})
	var fd, g int
	var same string
	if _, err := fmt.Sscan(out, &fd, &g, &same); err != nil || code != 0 {
		t.Fatalf("exit %d, output %q (%v), stderr %q", code, out, err, errs)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	base, _ := ReservedRange(rl.Cur)
	if fd < base || g < base || same != "True" {
		t.Errorf("parent's served fd %d, child's %d (range from %d); fstat of the child's matches stat: %s", fd, g, base, same)
	}
}
