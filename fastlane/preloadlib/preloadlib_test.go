package preloadlib

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSources: every C file of the directory, nothing else.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"preload.c", "channel.c", "channel.h", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got, err := Sources(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("Sources: %v, %v; want preload.c and channel.c", got, err)
	}
	if _, err := Sources(t.TempDir()); err == nil {
		t.Errorf("Sources of an empty directory: no error")
	}
}

// TestOneCodeSegment: the library's headers, code and read-only data
// load as one segment, its data as another (CFlags: -z noseparate-code),
// and the Justfile's build recipe passes the same flags as CFlags.
func TestOneCodeSegment(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil && os.Getenv("CC") == "" {
		t.Skip("no C compiler")
	}
	out := filepath.Join(t.TempDir(), LibName)
	if err := Build(out); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var loads []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			loads = append(loads, p.Flags.String())
		}
	}
	if len(loads) != 2 || loads[0] != "PF_X+PF_R" || loads[1] != "PF_W+PF_R" {
		t.Errorf("loadable segments %v; want [PF_X+PF_R PF_W+PF_R]", loads)
	}
	just, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(SourceDir())), "Justfile"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "gcc " + strings.Join(CFlags, " ") + " -o bin/" + LibName; !strings.Contains(string(just), want) {
		t.Errorf("the Justfile does not build the library with CFlags: no %q", want)
	}
}
