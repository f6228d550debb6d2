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

// benchHelper runs op n times in dir and prints the nanoseconds per op.
func benchHelper(op, dir string, n int) error {
	buf := make([]byte, 4096)
	p := filepath.Join(dir, "bench")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		return err
	}
	fd, err := unix.Open(p, unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if cpu, err := strconv.Atoi(os.Getenv("BENCH_CPU")); err == nil && cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		unix.SchedSetaffinity(0, &set)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		switch op {
		case "openread":
			f, err := unix.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Read(f, buf)
			unix.Close(f)
		case "createwrite":
			f, err := unix.Open(fmt.Sprintf("%s/c%d", dir, i), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			unix.Write(f, buf)
			unix.Close(f)
		case "stat":
			if err := unix.Stat(p, &st); err != nil {
				return err
			}
		case "fstat":
			if err := unix.Fstat(fd, &st); err != nil {
				return err
			}
		case "pread":
			unix.Pread(fd, buf, 0)
		case "mkdirrm":
			d := dir + "/m"
			if err := unix.Mkdir(d, 0o755); err != nil {
				return err
			}
			if err := unix.Rmdir(d); err != nil {
				return err
			}
		case "getppid":
			unix.Getppid()
		case "statout":
			if err := unix.Stat("/", &st); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%d\n", time.Since(start).Nanoseconds()/int64(n))
	return nil
}

// BenchmarkDoors measures each op through btfuse run, through the FUSE
// door and on tmpfs in one run; the ns/op of each is a custom metric, so
// the ratios come from one machine state.
func BenchmarkDoors(b *testing.B) {
	s := startSupervised(b)
	tmp := testutil.TmpfsDir(b)
	for _, op := range []string{"openread", "createwrite", "stat", "fstat", "pread", "mkdirrm"} {
		b.Run(op, func(b *testing.B) {
			n := b.N
			if n < 200 {
				n = 200
			}
			env := []string{"BTFUSE_TEST_HELPER=bench", "BENCH_OP=" + op, "BENCH_N=" + strconv.Itoa(n)}
			native := func(dir string) float64 {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(append(os.Environ(), env...), MountEnv+"="+dir)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s: %v %s", dir, err, out)
				}
				v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
				return v
			}
			code, out, errs := s.run(b, []string{os.Args[0]}, env...)
			if code != 0 {
				b.Fatalf("run: %d %s %s", code, out, errs)
			}
			run, _ := strconv.ParseFloat(strings.TrimSpace(out), 64)
			fuse := native(s.mount)
			tmpfs := native(tmp)
			b.ReportMetric(run, "run-ns/op")
			b.ReportMetric(fuse, "fuse-ns/op")
			b.ReportMetric(tmpfs, "tmpfs-ns/op")
			b.ReportMetric(fuse/run, "fuse/run")
		})
	}
}

// BenchmarkRunTrue measures the start-up of a supervised /bin/true
// against a plain one.
func BenchmarkRunTrue(b *testing.B) {
	s := startSupervised(b)
	b.Run("supervised", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if code, _, _ := s.run(b, []string{"/bin/true"}); code != 0 {
				b.Fatal(code)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchReceivers lets a measurement choose the number of receiving
// threads (BTFUSE_RECEIVERS); 0 is the default.
func benchReceivers() int {
	n, _ := strconv.Atoi(os.Getenv("BTFUSE_RECEIVERS"))
	return n
}

// BenchmarkBuildFilter measures the filter compilation every btfuse run
// pays before it starts the child (libseccomp, then export through a
// memfd).
func BenchmarkBuildFilter(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := BuildFilter(768); err != nil {
			b.Fatal(err)
		}
	}
}
