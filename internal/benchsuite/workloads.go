package benchsuite

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Workload is one thing the bench measures, in every mode.
type Workload struct {
	Name  string // the name --only takes
	Group string // seed, micro, io or program
	What  string // one line for the table's readers
	// Per says what one value is the time of: an operation, one find, one
	// cat, a GiB moved, one run of a program.
	Per string
	// Needs lists the programs the workload runs, looked up in PATH before
	// the first sample; a missing one fails the workload, not the bench.
	Needs []string
	// Quick and Full are the workload's size (iterations, files, rows) in
	// a --quick and in a full study.
	Quick, Full int
	// Wall adds a row with the wall time of the whole command, start-up of
	// 'btfuse run' included: the seed's study timed its commands that way.
	Wall bool

	// keep marks a read-only workload whose directory is made once per
	// filesystem and kept for all its rounds (fuse and run share it: they
	// read one filesystem): building 10k files through FUSE for every
	// sample would cost more than the samples. Its setup and prepare
	// leave an existing tree alone.
	keep bool
	// wallTimed workloads have no clock inside: the bench starts the
	// command N times and takes the wall time (process start-up itself).
	wallTimed bool

	scale   float64                              // multiplies time per count (MiB -> GiB)
	setup   func(dir string, n int) error        // untimed, by the bench process
	command func(s sampleSpec) ([]string, error) // argv to run with dir as working directory
}

// sampleSpec is what a workload's command is built from.
type sampleSpec struct {
	dir   string
	n     int
	exe   string            // this btfuse binary, for __benchop
	progs map[string]string // resolved programs, by name
}

// Marker starts the line on which a sample's command reports its timing:
// "btfuse-bench NANOSECONDS COUNT". Whatever else it prints is ignored.
const Marker = "btfuse-bench"

// All lists every workload, in the order of the table and the plot.
func All() []Workload { return workloads() }

// workloads is built on first use, not at package initialisation: every
// btfuse process, 'btfuse run' and its launcher child included, would pay
// for it.
var workloads = sync.OnceValue(func() []Workload {
	return []Workload{
		{Name: "find", Group: "seed", What: "find over a tree of N files (kept across rounds), 10 times in one shell", Per: "find",
			Needs: []string{"bash", "find"}, Quick: 1000, Full: 5000, Wall: true, keep: true,
			setup: func(dir string, n int) error { return writeTree(filepath.Join(dir, "tree"), genTree(n, 256, 1)) },
			command: func(s sampleSpec) ([]string, error) {
				return script(s, "", `for ((i = 0; i < 10; i++)); do find tree > /dev/null; done`, 10), nil
			}},
		{Name: "cat", Group: "seed", What: "cat of one 4 KiB file N times from one shell (fork+exec each)", Per: "cat",
			Needs: []string{"bash", "cat"}, Quick: 50, Full: 1000, Wall: true,
			setup: func(dir string, n int) error { return writeFile(filepath.Join(dir, "f"), block4K) },
			command: func(s sampleSpec) ([]string, error) {
				return script(s, "", fmt.Sprintf(`for ((i = 0; i < %d; i++)); do cat f; done > /dev/null`, s.n), s.n), nil
			}},

		{Name: "start", Group: "seed", What: "start of /bin/true, N times (run: under 'btfuse run', attached)", Per: "start",
			Needs: []string{"true"}, Quick: 5, Full: 20, wallTimed: true,
			command: func(s sampleSpec) ([]string, error) { return []string{s.progs["true"]}, nil }},

		micro("stat", "stat of one file", 2000, 20000),
		micro("statout", "stat of a file outside the mount (the btfuse binary)", 2000, 20000),
		micro("openclose", "open+close of one file", 1000, 20000),
		micro("openread", "open+read 4K+close of one file", 1000, 20000),
		micro("createwrite", "create+write 4K+close of a new file", 500, 10000),
		micro("mkdir", "mkdir of a new directory", 500, 10000),
		micro("unlink", "unlink of a file (made beforehand)", 500, 10000),
		kept(withArg(micro("readdir", "readdir of a directory of 10k entries (kept across rounds)", 5, 20), "readdir", 10000)),
		micro("pread", "pread 4K at offset 0 of an open file", 20000, 200000),

		throughput("seqwrite", "sequential write of a new file, 1 MiB blocks", 256, 1024),
		throughput("seqread", "sequential read of a file, 1 MiB blocks", 256, 1024),
		withArg(micro("randread", "pread 4K at random offsets of a 256 MiB file", 5000, 50000), "randread", 256),

		{Name: "tar", Group: "program", What: "tar extraction of an archive of N small files", Per: "run",
			Needs: []string{"bash", "tar"}, Quick: 500, Full: 5000,
			setup: func(dir string, n int) error {
				b, err := tarArchive(n)
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, "a.tar"), b, 0o644)
			},
			command: func(s sampleSpec) ([]string, error) {
				return script(s, "mkdir x", fmt.Sprintf(`%s -C x -xf a.tar`, s.progs["tar"]), 1), nil
			}},
		{Name: "git", Group: "program", What: "git init, add and commit of N files", Per: "run",
			Needs: []string{"bash", "git"}, Quick: 100, Full: 500,
			setup: func(dir string, n int) error { return writeTree(filepath.Join(dir, "src"), genTree(n, 4<<10, 2)) },
			command: func(s sampleSpec) ([]string, error) {
				g := s.progs["git"]
				return script(s, "cd src", fmt.Sprintf(`%[1]s init -q && %[1]s add -A && %[1]s commit -q -m bench`, g), 1), nil
			}},
		sqlite("sqlite-txn", "sqlite3: N inserts in one transaction", 1000, 10000, true),
		sqlite("sqlite-auto", "sqlite3: N inserts, autocommit (a journal and a commit each)", 200, 10000, false),
		{Name: "python", Group: "program", What: "python3 importing a package of N modules (kept, bytecode cached), twice", Per: "run",
			Needs: []string{"bash", "python3"}, Quick: 50, Full: 300, keep: true,
			setup: func(dir string, n int) error { return pyPackage(dir, n) },
			command: func(s sampleSpec) ([]string, error) {
				// The first import, untimed, writes __pycache__; the timed
				// ones load the cached bytecode, as a program's start does.
				imp := s.progs["python3"] + ` -c 'import benchpkg'`
				return script(s, imp, fmt.Sprintf(`for i in 1 2; do %s; done`, imp), 2), nil
			}},
	}
})

// micro is a workload run by 'btfuse __benchop OP DIR N'.
func micro(name, what string, quick, full int) Workload {
	return Workload{Name: name, Group: "micro", What: what + ", N times", Per: "op", Quick: quick, Full: full,
		command: func(s sampleSpec) ([]string, error) {
			return []string{s.exe, OpCommand, name, s.dir, strconv.Itoa(s.n)}, nil
		}}
}

// withArg passes arg to the operation after N.
func withArg(w Workload, op string, arg int) Workload {
	w.command = func(s sampleSpec) ([]string, error) {
		return []string{s.exe, OpCommand, op, s.dir, strconv.Itoa(s.n), strconv.Itoa(arg)}, nil
	}
	return w
}

// kept marks w as keep.
func kept(w Workload) Workload {
	w.keep = true
	return w
}

// throughput is a micro workload over N MiB, reported per GiB.
func throughput(name, what string, quickMiB, fullMiB int) Workload {
	w := micro(name, what, quickMiB, fullMiB)
	w.What = what + ", N MiB"
	w.Group, w.Per, w.scale = "io", "GiB", 1024
	return w
}

func sqlite(name, what string, quick, full int, txn bool) Workload {
	return Workload{Name: name, Group: "program", What: what, Per: "run",
		Needs: []string{"bash", "sqlite3"}, Quick: quick, Full: full,
		setup: func(dir string, n int) error {
			return os.WriteFile(filepath.Join(dir, "inserts.sql"), insertsSQL(n, txn), 0o644)
		},
		command: func(s sampleSpec) ([]string, error) {
			return script(s, "", s.progs["sqlite3"]+" db.sqlite < inserts.sql", 1), nil
		}}
}

// OpCommand is the hidden btfuse subcommand that runs one micro-operation
// loop (RunOp) and prints its time after Marker.
const OpCommand = "__benchop"

// script returns a bash command that runs prep, then times body with
// $EPOCHREALTIME (no process started for the clock) and prints the time in
// nanoseconds (microsecond resolution) and count after Marker. Both run in
// the sample's directory with their output discarded; set -e turns a
// failing step into a failed sample.
func script(s sampleSpec, prep, body string, count int) []string {
	if prep == "" {
		prep = ":"
	}
	src := strings.Join([]string{
		"set -e",
		"{ " + prep + "; } > /dev/null",
		"s=$EPOCHREALTIME",
		"{ " + body + "; } > /dev/null",
		"e=$EPOCHREALTIME",
		fmt.Sprintf(`echo "%s $(( ${e/./} - ${s/./} ))000 %d"`, Marker, count),
	}, "\n")
	return []string{s.progs["bash"], "-c", src}
}

// Find returns the workloads named in only (all of them when only is
// empty), in table order, or an error naming the unknown ones.
func Find(only []string) ([]Workload, error) {
	if len(only) == 0 {
		return All(), nil
	}
	want := map[string]bool{}
	for _, n := range only {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("--only names no workload; known: %s", strings.Join(Names(), ","))
	}
	var out []Workload
	for _, w := range All() {
		if want[w.Name] {
			out = append(out, w)
			delete(want, w.Name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, strconv.Quote(n))
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown workload %s; known: %s", strings.Join(unknown, ", "), strings.Join(Names(), ","))
	}
	return out, nil
}

// Names lists the workload names in table order.
func Names() []string {
	names := make([]string, len(All()))
	for i, w := range All() {
		names[i] = w.Name
	}
	return names
}
