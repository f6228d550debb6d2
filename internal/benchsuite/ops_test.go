package benchsuite

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunOp runs every micro-operation a few times on the test's own
// directory: what the bench runs in each mode must work on a plain one.
func TestRunOp(t *testing.T) {
	for _, name := range OpNames() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			n, arg := 20, 0
			switch name {
			case "readdir":
				arg = 300
			case "randread":
				arg = 1
			case "seqwrite", "seqread":
				n = 3
			}
			d, err := RunOp(name, dir, n, arg)
			if err != nil {
				t.Fatalf("RunOp(%s): %v", name, err)
			}
			if d <= 0 {
				t.Errorf("RunOp(%s) took %v", name, d)
			}
		})
	}
	t.Run("effects", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := RunOp("createwrite", dir, 5, 0); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(dir, "c4")); err != nil || st.Size() != block4K {
			t.Errorf("createwrite left c4 as %v, %v; want 4 KiB", st, err)
		}
		if _, err := RunOp("seqwrite", dir, 2, 0); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(dir, "seq")); err != nil || st.Size() != 2*block1M {
			t.Errorf("seqwrite left %v, %v; want 2 MiB", st, err)
		}
		// A second readdir run takes the directory the first one made.
		for range 2 {
			if _, err := RunOp("readdir", dir, 1, 50); err != nil {
				t.Fatal(err)
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "dir50")); len(ents) != 50 {
			t.Errorf("readdir directory has %d entries, want 50", len(ents))
		}
	})
}

func TestRunOpErrors(t *testing.T) {
	if _, err := RunOp("nope", t.TempDir(), 1, 0); err == nil {
		t.Error("unknown op accepted")
	}
	if _, err := RunOp("stat", t.TempDir(), 0, 0); err == nil {
		t.Error("zero iterations accepted")
	}
	if _, err := RunOp("stat", filepath.Join(t.TempDir(), "missing"), 1, 0); err == nil {
		t.Error("a missing directory did not fail the preparation")
	}
	for _, args := range [][]string{{"stat", "/d"}, {"stat", "/d", "x"}, {"stat", "/d", "1", "y"}, {"a", "b", "1", "2", "3"}} {
		if _, _, _, _, err := ParseOpArgs(args); err == nil {
			t.Errorf("ParseOpArgs(%q) accepted it", args)
		}
	}
	if op, dir, n, arg, err := ParseOpArgs([]string{"readdir", "/d", "7", "100"}); err != nil || op != "readdir" || dir != "/d" || n != 7 || arg != 100 {
		t.Errorf("ParseOpArgs = %s %s %d %d %v", op, dir, n, arg, err)
	}
}
