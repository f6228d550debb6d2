package posixtest

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestConfined(t *testing.T) {
	for _, c := range []struct {
		path string
		want bool
	}{
		{"a", true}, {"", true}, {".", true}, {"a/..", true}, {"a/b/../..", true}, {"/a", true},
		{"..", false}, {"a/../..", false}, {"./..", false}, {"a/b/../../../c", false}, {"//..", false},
	} {
		t.Run(c.path, func(t *testing.T) {
			if got := Confined(c.path); got != c.want {
				t.Errorf("Confined(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

func TestFormatOpenFlags(t *testing.T) {
	for _, c := range []struct {
		flags int
		want  string
	}{
		{unix.O_RDONLY, "O_RDONLY"},
		{unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC, "O_WRONLY|O_CREAT|O_EXCL"},
		{unix.O_RDWR | unix.O_APPEND | unix.O_TRUNC, "O_RDWR|O_TRUNC|O_APPEND"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := FormatOpenFlags(c.flags); got != c.want {
				t.Errorf("FormatOpenFlags(%#x) = %q, want %q", c.flags, got, c.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	a := []string{"1", "2", "3", "4"}
	for _, c := range []struct {
		name      string
		b         []string
		wantEmpty bool
		contains  []string
	}{
		{"equal", []string{"1", "2", "3", "4"}, true, nil},
		{"changed", []string{"1", "X", "3", "4"}, false, []string{"-2", "+X"}},
		{"missing", []string{"1", "2", "3"}, false, []string{"-4"}},
		{"extra", []string{"0", "1", "2", "3", "4"}, false, []string{"+0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Diff("a", a, "b", c.b)
			if (d == "") != c.wantEmpty {
				t.Fatalf("Diff = %q", d)
			}
			for _, s := range c.contains {
				if !strings.Contains(d, "\n"+s+"\n") {
					t.Errorf("Diff lacks line %q:\n%s", s, d)
				}
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, g := range []struct {
		name string
		gen  func(uint64, int) []Op
	}{{"Generate", Generate}, {"GenerateNames", GenerateNames}} {
		t.Run(g.name, func(t *testing.T) {
			for _, seed := range []uint64{0, 1, 1 << 40} {
				a, b := g.gen(seed, 500), g.gen(seed, 500)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("seed %d: two sequences differ", seed)
				}
				for _, op := range a {
					if !Confined(op.Path) || !Confined(op.Path2) || strings.HasPrefix(op.Path2, "/") {
						t.Errorf("seed %d: %s leaves its root", seed, op)
					}
				}
			}
		})
	}
}

func TestShrink(t *testing.T) {
	ops := Generate(7, 300)
	// Fails when the ops at 17 and 250 are both present.
	need := []Op{ops[17], ops[250]}
	fails := func(cand []Op) bool {
		found := 0
		for _, op := range cand {
			for _, n := range need {
				if reflect.DeepEqual(op, n) {
					found++
				}
			}
		}
		return found >= 2
	}
	got := Shrink(ops, fails, 1<<20)
	if !fails(got) || len(got) != 2 {
		t.Errorf("Shrink kept %d ops, want the 2 needed:\n%s", len(got), FormatOps(got))
	}
}

func TestParseDirents(t *testing.T) {
	// Two records as the kernel lays them out, then a torn one.
	rec := func(ino, off uint64, typ uint8, name string) []byte {
		reclen := (19 + len(name) + 1 + 7) &^ 7
		b := make([]byte, reclen)
		for i := 0; i < 8; i++ {
			b[i], b[8+i] = byte(ino>>(8*i)), byte(off>>(8*i))
		}
		b[16], b[17], b[18] = byte(reclen), byte(reclen>>8), typ
		copy(b[19:], name)
		return b
	}
	buf := append(rec(5, 1, unix.DT_DIR, "."), rec(9, 2, unix.DT_REG, "file")...)
	buf = append(buf, 1, 2, 3)
	got := parseDirents(buf)
	want := []Dirent{{Ino: 5, Off: 1, Type: unix.DT_DIR, Name: "."}, {Ino: 9, Off: 2, Type: unix.DT_REG, Name: "file"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseDirents = %+v, want %+v", got, want)
	}
}
