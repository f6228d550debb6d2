package supervisor

import (
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// goTargetSource is a program that Go builds static (CGO_ENABLED=0): it
// makes its file syscalls itself, without libc, so the supervisor sees the
// raw forms Go's runtime uses (openat, newfstatat, fstat on the served
// descriptor, getdents64 on a directory, renameat, mkdirat, unlinkat,
// readlinkat, fchmodat, truncate). It prints each result with the errno
// name, in a fixed order, for the directory in argv[1].
const goTargetSource = `package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
)

func report(what string, err error) {
	var e syscall.Errno
	switch {
	case err == nil:
		fmt.Println(what, "ok")
	case errors.As(err, &e):
		fmt.Println(what, "errno", int(e), e.Error())
	default:
		fmt.Println(what, "error", err)
	}
}

func main() {
	if err := os.Chdir(os.Args[1]); err != nil {
		fmt.Println("chdir", err)
		os.Exit(1)
	}
	report("mkdir", os.Mkdir("d", 0o750))
	report("mkdir again", os.Mkdir("d", 0o750))
	f, err := os.OpenFile("d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	report("create", err)
	if err == nil {
		_, err = f.WriteString("hello from a static Go binary\n")
		report("write", err)
		st, err := f.Stat()
		report("fstat", err)
		if err == nil {
			fmt.Println("fstat size", st.Size(), "mode", st.Mode())
		}
		b := make([]byte, 64)
		n, err := f.ReadAt(b, 6)
		fmt.Printf("pread %q %v\n", b[:n], err)
		report("close", f.Close())
	}
	_, err = os.OpenFile("d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	report("create excl existing", err)
	_, err = os.Open("d/missing")
	report("open missing", err)
	_, err = os.OpenFile("d", os.O_WRONLY, 0)
	report("open dir for writing", err)
	b, err := os.ReadFile("d/f")
	fmt.Printf("read %q %v\n", b, err)
	report("rename", os.Rename("d/f", "d/g"))
	report("rename missing", os.Rename("d/f", "d/h"))
	report("symlink", os.Symlink("g", "d/l"))
	t, err := os.Readlink("d/l")
	fmt.Println("readlink", t, err)
	_, err = os.Readlink("d/g")
	report("readlink of a file", err)
	st, err := os.Stat("d/l")
	report("stat through link", err)
	if err == nil {
		fmt.Println("stat size", st.Size(), "mode", st.Mode())
	}
	lst, err := os.Lstat("d/l")
	report("lstat", err)
	if err == nil {
		fmt.Println("lstat mode", lst.Mode()&os.ModeType == os.ModeSymlink)
	}
	report("chmod", os.Chmod("d/g", 0o600))
	report("truncate", os.Truncate("d/g", 5))
	st, err = os.Stat("d/g")
	if err == nil {
		fmt.Println("after chmod+truncate", st.Size(), st.Mode())
	}
	for i := 0; i < 20; i++ {
		report(fmt.Sprint("write n", i), os.WriteFile(fmt.Sprintf("d/n%02d", i), []byte(fmt.Sprint(i)), 0o644))
	}
	ents, err := os.ReadDir("d")
	report("readdir", err)
	var names []string
	for _, e := range ents {
		names = append(names, fmt.Sprint(e.Name(), " ", e.Type()))
	}
	sort.Strings(names)
	fmt.Println(names)
	report("rmdir non-empty", os.Remove("d"))
	report("remove all", os.RemoveAll("d"))
	_, err = os.Stat("d")
	report("stat removed", err)
}
`

// buildGoTarget builds goTargetSource static into a temporary directory.
func buildGoTarget(t *testing.T) string {
	return buildGoTargetLinked(t, false)
}

// buildGoTargetLinked builds goTargetSource, static or (dynamic) linked
// against libc by the external linker, with an ELF interpreter.
func buildGoTargetLinked(t *testing.T, dynamic bool) string {
	t.Helper()
	testutil.RequireProgram(t, "go")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goTargetSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gotarget\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gotarget")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cgo := "CGO_ENABLED=0"
	if dynamic {
		cmd = exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin, ".")
		cgo = "CGO_ENABLED=1"
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cgo, "GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	interp := false
	for _, p := range ef.Progs {
		interp = interp || p.Type == elf.PT_INTERP
	}
	if interp != dynamic {
		t.Fatalf("%s: ELF interpreter %v, want %v", bin, interp, dynamic)
	}
	return bin
}

// TestRunStaticGoBinary runs a static Go binary natively on tmpfs and
// supervised in the mount, once from outside the mount and once copied
// into it (execve of a static binary stored in the mount). With the fast
// lane on it gets no library (no ELF interpreter) and runs the same.
func TestRunStaticGoBinary(t *testing.T) {
	testutil.RequirePrivileged(t)
	bin := buildGoTarget(t)
	for _, lane := range lanes {
		t.Run(lane, func(t *testing.T) { runGoTarget(t, withLane(t, startSupervised(t), lane), bin) })
	}
}

// TestRunDynamicGoBinaryFastLane: a Go program linked against libc gets
// the fast lane's library, whose interposed functions its own bare
// syscalls never call: it runs as on the seccomp lane.
func TestRunDynamicGoBinaryFastLane(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.RequireProgram(t, "gcc")
	bin := buildGoTargetLinked(t, true)
	runGoTarget(t, withLane(t, startSupervised(t), "fast"), bin)
}

// runGoTarget runs bin natively on tmpfs and under s, from where it is and
// copied into the mount, and compares the outputs.
func runGoTarget(t *testing.T, s *supervised, bin string) {
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(bin, ref).CombinedOutput()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, want)
	}
	if !strings.Contains(string(want), "readdir ok") {
		t.Fatalf("native run printed no readdir result:\n%s", want)
	}
	inMount := filepath.Join(s.mount, "gotarget")
	if err := copyFile(bin, inMount, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{bin, inMount} {
		code, out, errs := s.run(t, []string{target, s.mount})
		if code != 0 {
			t.Fatalf("%s supervised: exit %d\n%s%s", target, code, out, errs)
		}
		if out+errs != string(want) {
			t.Errorf("%s: outputs differ\n%s", target, outputDiff(string(want), out+errs))
		}
	}
	if served, _, _, _ := s.sup.StatsSnapshot(); served == 0 {
		t.Errorf("nothing served")
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
