package benchsuite

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

func TestWorkloadTable(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range All() {
		if seen[w.Name] {
			t.Errorf("workload %q listed twice", w.Name)
		}
		seen[w.Name] = true
		if w.command == nil || w.Per == "" || w.What == "" || w.Quick <= 0 || w.Full < w.Quick {
			t.Errorf("workload %q is incomplete: %+v", w.Name, w)
		}
		if strings.ContainsAny(w.Name, ", ") {
			t.Errorf("workload %q cannot be named in --only", w.Name)
		}
	}
	// The list, so that none goes missing unnoticed.
	for _, name := range []string{"find", "cat", "start", "stat", "openclose", "openread", "createwrite", "mkdir", "unlink",
		"readdir", "pread", "seqwrite", "seqread", "randread", "tar", "git", "sqlite-txn", "sqlite-auto", "python"} {
		if !seen[name] {
			t.Errorf("workload %q missing", name)
		}
	}
}

func TestFind(t *testing.T) {
	all, err := Find(nil)
	if err != nil || len(all) != len(All()) {
		t.Fatalf("Find(nil) = %d workloads, %v", len(all), err)
	}
	got, err := Find([]string{"cat", " stat", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "cat" || got[1].Name != "stat" {
		t.Errorf("Find(cat, stat) = %v, want table order cat, stat", got)
	}
	for _, bad := range [][]string{{"nope"}, {"stat", "zz", "aa"}, {""}} {
		_, err := Find(bad)
		if err == nil {
			t.Errorf("Find(%q) accepted it", bad)
			continue
		}
		if !strings.Contains(err.Error(), "known: find,cat,") {
			t.Errorf("Find(%q): %v does not list the known names", bad, err)
		}
	}
	if _, err := Find([]string{"stat", "zz", "aa"}); !strings.Contains(err.Error(), `"aa", "zz"`) {
		t.Errorf("unknown names not listed sorted: %v", err)
	}
}

func TestParseMarker(t *testing.T) {
	for _, tc := range []struct {
		out   string
		ns    int64
		count int
		ok    bool
	}{
		{"btfuse-bench 1500 3\n", 1500, 3, true},
		{"noise\nbtfuse-bench 1 1\nbtfuse-bench 2000 4\ntrailer\n", 2000, 4, true},
		{"", 0, 0, false},
		{"btfuse-bench 12\n", 0, 0, false},
		{"btfuse-bench x 3\n", 0, 0, false},
		{"btfuse-bench 100 0\n", 0, 0, false},
		{"btfuse-bench -5 2\n", 0, 0, false},
	} {
		ns, count, err := parseMarker(tc.out)
		if (err == nil) != tc.ok || ns != tc.ns || count != tc.count {
			t.Errorf("parseMarker(%q) = %d, %d, %v", tc.out, ns, count, err)
		}
	}
}

// TestScriptTimesItself runs a workload script with bash: it must print a
// timing line the runner parses, and fail when a step fails.
func TestScriptTimesItself(t *testing.T) {
	testutil.RequireProgram(t, "bash")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	s := sampleSpec{dir: t.TempDir(), progs: map[string]string{"bash": bash}}
	argv := script(s, "echo prep > p", "sleep 0.05; cat p", 5)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	ns, count, err := parseMarker(string(out))
	if err != nil || count != 5 || ns < 50e6 {
		t.Errorf("script printed %q: %d ns, count %d, %v; want >= 50ms and 5", out, ns, count, err)
	}
	if strings.Contains(string(out), "prep") {
		t.Errorf("the steps' output leaked into the timing output: %q", out)
	}

	argv = script(s, "", "false; echo not reached", 1)
	if out, err := exec.Command(argv[0], argv[1:]...).Output(); err == nil {
		t.Errorf("a failing step did not fail the script: %q", out)
	}
}

func TestFixtures(t *testing.T) {
	dir := t.TempDir()
	if err := writeTree(filepath.Join(dir, "tree"), genTree(250, 64, 1)); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(dir, "tree"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if n != 250 {
		t.Errorf("tree of %d files, want 250", n)
	}
	if a, b := genTree(10, 64, 1), genTree(10, 64, 1); string(a[3].data) != string(b[3].data) {
		t.Error("trees from one seed differ: modes would not get the same bytes")
	}
	if err := pyPackage(dir, 25); err != nil {
		t.Fatal(err)
	}
	if python, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(python, "-c", "import benchpkg; assert benchpkg.sub02.mod024.add_24(1, 2) == 27")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("the generated package does not import: %v\n%s", err, out)
		}
	}
	sql := string(insertsSQL(3, true))
	if !strings.HasPrefix(sql, "BEGIN;\n") || strings.Count(sql, "INSERT") != 3 || !strings.HasSuffix(sql, "COMMIT;\n") {
		t.Errorf("insertsSQL(3, txn):\n%s", sql)
	}
	if auto := string(insertsSQL(3, false)); strings.Contains(auto, "BEGIN") {
		t.Errorf("autocommit SQL opens a transaction:\n%s", auto)
	}
	if sqlite, err := exec.LookPath("sqlite3"); err == nil {
		db := filepath.Join(dir, "db")
		load := exec.Command(sqlite, db)
		load.Stdin = strings.NewReader(sql)
		if out, err := load.CombinedOutput(); err != nil {
			t.Fatalf("sqlite3 rejects the SQL: %v\n%s", err, out)
		}
		out, err := exec.Command(sqlite, db, "SELECT count(*) FROM t").Output()
		if err != nil || strings.TrimSpace(string(out)) != "3" {
			t.Errorf("table holds %q rows (%v), want 3", out, err)
		}
	}
	arch, err := tarArchive(20)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := tarArchive(20); &again[0] != &arch[0] {
		t.Error("the archive is built again instead of cached")
	}
}
