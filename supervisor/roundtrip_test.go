package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/launcher"
)

// getppidFilter notifies getppid and allows everything else: the bare
// notification round trip, with no path to read and nothing to resolve.
func getppidFilter() []unix.SockFilter {
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_GETPPID},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
}

// bareServe answers every notification of fd with 0 from one locked
// thread (pinned to cpu when cpu >= 0) until the returned stop is called:
// the floor under what the Supervisor does per notification.
func bareServe(fd int, syncWake bool, cpu int) (stop func()) {
	if syncWake {
		if e := setSyncWakeUp(fd); e != 0 {
			panic(e)
		}
	}
	var tid atomic.Int64
	var stopped atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if cpu >= 0 {
			var set unix.CPUSet
			set.Set(cpu)
			unix.SchedSetaffinity(0, &set)
		}
		tid.Store(int64(unix.Gettid()))
		var n notif
		for !stopped.Load() {
			if e := notifRecv(fd, &n); e != 0 {
				continue // EINTR (the stop signal) or ENOENT
			}
			r := notifResp{ID: n.ID}
			notifSend(fd, &r)
		}
	}()
	return func() {
		stopped.Store(true)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			if t := tid.Load(); t != 0 {
				unix.Tgkill(unix.Getpid(), int(t), unix.SIGURG)
			}
			select {
			case <-done:
				unix.Close(fd)
				return
			default:
				sleepBriefly()
			}
		}
	}
}

// MountEnv is launcher.MountEnv, through which the test helpers learn
// where the mount is, as commands under btfuse run do.
const MountEnv = launcher.MountEnv

// startServed starts argv as launcher.Start does, under the filter
// BuildFilter makes unless opts.Build is set, with the reserved range
// ReservedRange picks unless opts.Range is set, hands a copy of its listener
// to serve (which returns a function that waits for serving to end) and
// lets it exec. It returns the target, whose ErrChildExited it reports as
// nil with the listener unset, and that wait.
func startServed(t testing.TB, argv []string, opts launcher.Options, serve func(fd, base, size int) (stop func())) (*launcher.Target, func()) {
	t.Helper()
	if opts.Range == nil {
		opts.Range = ReservedRange
	}
	if opts.Build == nil {
		opts.Build = BuildFilter
	}
	tg, err := launcher.Start(argv, opts)
	if errors.Is(err, launcher.ErrChildExited) {
		return tg, func() {}
	}
	if err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	lfd, err := unix.FcntlInt(tg.Listener.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tg.Listener.Close()
	tg.Listener = nil
	stop := serve(lfd, tg.Base, tg.Size)
	if err := tg.Go(); err != nil {
		t.Fatal(err)
	}
	return tg, stop
}

// runServed runs argv under filter (nil: the real one), its listener
// served by serve, and returns its exit status and standard output.
func runServed(t testing.TB, argv, env []string, filter []unix.SockFilter, serve func(fd, base, size int) (stop func())) (int, string) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opts := launcher.Options{
		Self:   []string{os.Args[0]},
		Stdout: out,
		Env:    append(os.Environ(), env...),
	}
	if filter != nil {
		opts.Build = func(int) ([]unix.SockFilter, error) { return filter, nil }
	}
	tg, stop := startServed(t, argv, opts, serve)
	code := tg.Wait()
	stop()
	b, _ := os.ReadFile(out.Name())
	return code, string(b)
}

// BenchmarkRoundTrip measures one notified getppid answered by a bare Go
// loop (with and without SYNC_WAKE_UP, unpinned and with target and
// receiver on one CPU) and by the Supervisor (no handler: CONTINUE), and a
// stat outside the mount through the full filter (path read, judged,
// CONTINUEd) against the same stat unsupervised. Each variant is a custom
// metric (us per call) from one run, so they compare one machine state.
//
//	go test -run '^$' -bench RoundTrip -benchtime 20000x ./supervisor/
func BenchmarkRoundTrip(b *testing.B) {
	s := startSupervised(b)
	n := b.N
	if n < 2000 {
		n = 2000
	}
	measure := func(op string, cpu int, filter []unix.SockFilter, serve func(fd, base, size int) func()) float64 {
		env := []string{"BTFUSE_TEST_HELPER=bench", "BENCH_OP=" + op, "BENCH_N=" + strconv.Itoa(n),
			"BENCH_CPU=" + strconv.Itoa(cpu), MountEnv + "=" + s.mount}
		code, out := runServed(b, []string{os.Args[0]}, env, filter, serve)
		if code != 0 {
			b.Fatalf("%s: exit %d: %s", op, code, out)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			b.Fatalf("%s: %q", op, out)
		}
		return v / 1000
	}
	bare := func(syncWake bool, cpu int) func(fd, base, size int) func() {
		return func(fd, _, _ int) func() { return bareServe(fd, syncWake, cpu) }
	}
	sup := func(fd, base, size int) func() {
		done := make(chan struct{})
		go func() { s.sup.Serve(fd, base, size); close(done) }()
		return func() { <-done }
	}
	cpu := runtime.NumCPU() - 1
	b.ResetTimer()
	b.ReportMetric(measure("getppid", -1, getppidFilter(), bare(false, -1)), "bare-us")
	b.ReportMetric(measure("getppid", -1, getppidFilter(), bare(true, -1)), "bare-sync-us")
	b.ReportMetric(measure("getppid", cpu, getppidFilter(), bare(true, cpu)), "bare-sync-1cpu-us")
	b.ReportMetric(measure("getppid", -1, getppidFilter(), sup), "supervisor-us")
	b.ReportMetric(measure("statout", -1, nil, sup), "statout-us")
	b.ReportMetric(measure("stat", -1, nil, sup), "stat-us")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
}
