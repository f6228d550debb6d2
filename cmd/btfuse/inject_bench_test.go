package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/testutil"
)

// loopHelper runs one syscall in a loop in the working directory and
// prints the nanoseconds per call: BTFUSE_TEST_LOOP=stat|pread|open, with
// BTFUSE_TEST_N calls.
func loopHelper(op string) int {
	n, _ := strconv.Atoi(os.Getenv("BTFUSE_TEST_N"))
	buf := make([]byte, 4096)
	if err := os.WriteFile("loopfile", buf, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fd, err := unix.Open("loopfile", unix.O_RDONLY, 0)
	if err != nil {
		return 1
	}
	var st unix.Stat_t
	start := time.Now()
	for i := 0; i < n; i++ {
		switch op {
		case "stat":
			unix.Stat("loopfile", &st)
		case "pread":
			unix.Pread(fd, buf, 0)
		case "open":
			f, _ := unix.Open("loopfile", unix.O_RDONLY, 0)
			unix.Close(f)
		}
	}
	el := time.Since(start)
	fmt.Println(el.Nanoseconds() / int64(max(n, 1)))
	return 0
}

// BenchmarkInjectCost measures, in interleaved rounds, a stat, pread and
// open+close loop outside the mount: native, under 'btfuse run', under
// 'btfuse run' with never-firing rules (one naming other syscalls, one
// naming the measured syscall, which then is examined for every call),
// and under strace with a never-firing inject rule. Metrics are medians
// of the rounds in ns per call, and the wall time of each whole command.
func BenchmarkInjectCost(b *testing.B) {
	testutil.RequirePrivileged(b)
	testutil.RequireProgram(b, "strace")
	rounds, _ := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	if rounds <= 0 {
		rounds = 5
	}
	runtime := b.TempDir() + "/run"
	for _, op := range []struct{ name, sys string }{{"stat", "newfstatat"}, {"pread", "pread64"}, {"open", "openat"}} {
		b.Run(op.name, func(b *testing.B) {
			n := max(b.N, 20000)
			variants := []struct {
				name string
				argv []string
			}{
				{"native", nil},
				{"run", []string{os.Args[0], "run", "--"}},
				{"run-rule-other", []string{os.Args[0], "run", "--inject-seed", "1", "--inject", "mkdir:error=EIO:path=/nonexistent/**", "--"}},
				{"run-rule-same", []string{os.Args[0], "run", "--inject-seed", "1", "--inject", op.sys + ":error=EIO:path=/nonexistent/**", "--"}},
				{"strace", []string{"strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject=" + op.sys + ":error=EIO:when=65535", "--"}},
			}
			per := make([][]float64, len(variants))
			wall := make([][]float64, len(variants))
			for r := 0; r < rounds; r++ {
				for i, v := range variants {
					// env keeps btfuse's BTFUSE_TEST_MAIN from the loop.
					argv := append(append([]string{}, v.argv...), "env", "-u", "BTFUSE_TEST_MAIN", os.Args[0])
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Dir = b.TempDir()
					cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=", "BTFUSE_TEST_LOOP="+op.name, "BTFUSE_TEST_N="+strconv.Itoa(n),
						"BTFUSE_RUNTIME_DIR="+runtime, "GORACE=atexit_sleep_ms=0")
					if len(v.argv) > 0 && v.argv[0] == os.Args[0] {
						cmd.Env = append(cmd.Env, "BTFUSE_TEST_MAIN=1")
					}
					t0 := time.Now()
					out, err := cmd.Output()
					el := time.Since(t0)
					if err != nil {
						b.Fatalf("%s: %v %s", v.name, err, out)
					}
					ns, err := strconv.ParseFloat(strings.TrimSpace(lastLine(string(out))), 64)
					if err != nil {
						b.Fatalf("%s: output %q", v.name, out)
					}
					per[i] = append(per[i], ns)
					wall[i] = append(wall[i], float64(el.Milliseconds()))
				}
			}
			for i, v := range variants {
				b.ReportMetric(median(per[i]), v.name+"-ns/call")
				b.ReportMetric(median(wall[i]), v.name+"-ms/cmd")
			}
			b.ReportMetric(median(per[4])/median(per[3]), "strace/run-rule")
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkInjectVsStrace compares the wall time of whole commands with
// the same never-firing rule under strace -f and under btfuse run, and
// plain, in interleaved rounds (medians): a metadata-heavy one (tar of
// /usr/include: opens and stats, which btfuse's filter notifies) and a
// syscall-heavy one without paths (dd with 512-byte blocks, which btfuse
// leaves native and strace stops twice per syscall).
func BenchmarkInjectVsStrace(b *testing.B) {
	testutil.RequirePrivileged(b)
	testutil.RequireProgram(b, "strace", "tar", "dd")
	rounds, _ := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	if rounds <= 0 {
		rounds = 5
	}
	const rule = "openat:error=EIO:when=65535"
	runtime := b.TempDir() + "/run"
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"tar", []string{"tar", "cf", "/dev/null", "-C", "/usr", "include"}},
		{"dd", []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=512", "count=20000", "status=none"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			variants := []struct {
				name string
				pre  []string
			}{
				{"plain", nil},
				{"run", []string{os.Args[0], "run", "--inject-seed", "1", "--inject", rule, "--"}},
				{"strace", []string{"strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject=" + rule, "--"}},
			}
			wall := make([][]float64, len(variants))
			for r := 0; r < rounds; r++ {
				for i, v := range variants {
					argv := append(append([]string{}, v.pre...), c.argv...)
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Env = append(os.Environ(), "BTFUSE_TEST_MAIN=1", "BTFUSE_RUNTIME_DIR="+runtime, "GORACE=atexit_sleep_ms=0")
					t0 := time.Now()
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("%s: %v %s", v.name, err, out)
					}
					wall[i] = append(wall[i], float64(time.Since(t0).Microseconds())/1000)
				}
			}
			for i, v := range variants {
				b.ReportMetric(median(wall[i]), v.name+"-ms")
			}
			b.ReportMetric(median(wall[2])/median(wall[1]), "strace/run")
		})
	}
}
