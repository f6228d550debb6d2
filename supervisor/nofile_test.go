package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/btfuse/btfuse/internal/testutil"
	"github.com/btfuse/btfuse/launcher"
)

// TestOpenFullTable runs testdata/nofile.c natively in a tmpfs and under
// the supervisor with a soft RLIMIT_NOFILE of 64, the reserved range
// [48, 64) under it: an open that creates or truncates in a full table is
// EMFILE and changes nothing, a missing file there is EMFILE too, and one
// free number, or a free reserved range, is room, as in fs/open.c, which
// takes the number first. Once with one thread and once with a second
// thread sharing the table.
func TestOpenFullTable(t *testing.T) {
	testutil.RequireProgram(t, "gcc")
	bin := filepath.Join(t.TempDir(), "nofile")
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", bin, "../testdata/nofile.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	const soft = "64"
	want, err := exec.Command(bin, testutil.TmpfsDir(t), soft).CombinedOutput()
	if err != nil {
		t.Fatalf("nofile natively: %v\n%s", err, want)
	}
	s := startSupervised(t)
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tg, wait := startServed(t, []string{bin, s.mount, soft}, launcher.Options{
		Self:   []string{os.Args[0]},
		Stdout: out, Stderr: out,
		// The program lowers its soft limit to 64 first: the range must
		// lie under that one.
		Range: func(uint64) (int, int) { return ReservedRange(64) },
	}, s.serve(t))
	timer := time.AfterFunc(time.Minute, func() { tg.Cmd.Process.Kill() }) // hang guard
	code := tg.Wait()
	timer.Stop()
	wait()
	got, _ := os.ReadFile(out.Name())
	if code != 0 {
		t.Fatalf("nofile under the supervisor: exit %d\n%s", code, got)
	}
	if string(got) != string(want) {
		t.Errorf("differs from the kernel's tmpfs:\n%s", outputDiff(string(want), string(got)))
	}
}
