package benchsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is what 'btfuse bench' asks for.
type Config struct {
	Exe     string   // the btfuse binary to measure (and to run __benchop)
	Version string   // its version, for the report
	Quick   bool     // the small study (Workload.Quick sizes)
	Rounds  int      // samples per workload and mode; 0 means DefaultRounds
	Only    []string // workload names; empty means all
	// Progress receives the progress bar (Terminal) or lines; nil discards.
	Progress io.Writer
	Terminal bool
}

// DefaultRounds is the number of samples per workload and mode: the table
// shows median, min and max, which needs a few.
const DefaultRounds = 5

// sampleTimeout bounds one sample, so that a hung command fails its
// workload instead of the bench.
const sampleTimeout = 10 * time.Minute

// Run runs the bench and returns its report. A workload that fails is
// recorded as failed and the others go on; Run itself fails only when the
// modes cannot be set up (not root, no /dev/fuse) or ctx is cancelled, in
// which case the report of what ran is returned too.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("btfuse bench needs root: it mounts a tmpfs for the native mode and a FUSE filesystem with passthrough for the others; run it with sudo")
	}
	workloads, err := Find(cfg.Only)
	if err != nil {
		return nil, err
	}
	rounds := cfg.Rounds
	if rounds <= 0 {
		rounds = DefaultRounds
	}
	modes := Modes
	if FindFastLib(cfg.Exe) == "" {
		// A btfuse built without the library: the table says so by
		// having no fast column, and run says why on stderr.
		modes = slices.DeleteFunc(slices.Clone(Modes), func(m string) bool { return m == ModeFast })
	}
	rep := &Report{
		Started: time.Now(), Quick: cfg.Quick, Rounds: rounds, Modes: modes,
		Machine: ThisMachine(), Binary: cfg.Exe, Version: cfg.Version, Programs: map[string]string{},
		Load: [2]float64{loadAvg(), 0},
	}
	r := &runner{cfg: cfg, rep: rep, rounds: rounds, env: commandEnv()}
	for _, w := range workloads {
		res := &Result{Name: w.Name, Group: w.Group, What: w.What, Per: w.Per, N: w.Full, Wall: w.Wall}
		if cfg.Quick {
			res.N = w.Quick
		}
		if err := r.resolve(w.Needs); err != nil {
			res.Error = err.Error()
		}
		rep.Workloads = append(rep.Workloads, res)
		r.work = append(r.work, w)
	}

	env, err := StartEnv(ctx, cfg.Exe)
	if err != nil {
		return nil, err
	}
	r.modes = env
	if env.FastLib != "" {
		r.env = append(r.env, "BTFUSE_FAST_LIBRARY="+env.FastLib)
	}
	err = r.loop(ctx)
	rep.Elapsed = time.Since(rep.Started).Seconds()
	rep.Load[1] = loadAvg()
	if cerr := env.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("tear down: %w", cerr))
	}
	return rep, err
}

type runner struct {
	cfg    Config
	rep    *Report
	rounds int
	work   []Workload // parallel to rep.Workloads
	modes  *Env
	env    []string // environment of the sample commands
}

// loop runs the rounds: in each, every workload once in every mode, the
// modes rotated by one from round to round so that each comes first as
// often as the others.
func (r *runner) loop(ctx context.Context) error {
	modes := r.rep.Modes
	p := newProgress(r.cfg.Progress, r.cfg.Terminal, r.rounds*len(r.work)*len(modes))
	defer p.finish()
	for round := 1; round <= r.rounds; round++ {
		for i, w := range r.work {
			res := r.rep.Workloads[i]
			var medians []string
			for k := range modes {
				mode := modes[(k+round-1)%len(modes)]
				if ctx.Err() != nil {
					return r.interrupted(p)
				}
				if res.Error != "" {
					p.end() // a failed workload's samples count as done
					continue
				}
				p.begin(round, r.rounds, w.Name, mode)
				s, err := r.sample(ctx, w, res.N, mode, round)
				p.end()
				if err != nil {
					if ctx.Err() != nil {
						return r.interrupted(p)
					}
					res.Error = fmt.Sprintf("%s mode, round %d: %v", mode, round, err)
					p.line("%s failed: %s", w.Name, oneLine(res.Error))
					continue
				}
				res.Samples = append(res.Samples, s)
				medians = append(medians, mode+" "+FormatNS(s.NS))
			}
			if !r.cfg.Terminal && res.Error == "" {
				p.line("round %d/%d %s per %s: %s", round, r.rounds, w.Name, w.Per, strings.Join(medians, ", "))
			}
		}
	}
	return nil
}

// interrupted marks the report as cut short and says so.
func (r *runner) interrupted(p *progress) error {
	r.rep.Interrupted = true
	return fmt.Errorf("interrupted after %d of %d samples; the table holds those that completed", p.done, p.total)
}

// sample runs w once in mode, in a fresh directory that is removed after
// (or, for a kept workload, in the one directory all rounds share).
func (r *runner) sample(ctx context.Context, w Workload, n int, mode string, round int) (_ Sample, err error) {
	dir := filepath.Join(r.modes.Dir(mode), fmt.Sprintf("%s-%s-%d", w.Name, mode, round))
	fresh := true
	if w.keep {
		dir = filepath.Join(r.modes.Dir(mode), w.Name+"-kept")
		if _, err := os.Stat(dir); err == nil {
			fresh = false
		}
	}
	if fresh {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return Sample{}, fmt.Errorf("make the sample directory: %w", err)
		}
	}
	if !w.keep {
		defer func() {
			if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
				err = fmt.Errorf("remove the sample directory: %w", rerr)
			}
		}()
	}
	if w.setup != nil && fresh {
		if err := w.setup(dir, n); err != nil {
			return Sample{}, fmt.Errorf("prepare: %w", err)
		}
	}
	argv, err := w.command(sampleSpec{dir: dir, n: n, exe: r.cfg.Exe, progs: r.rep.Programs})
	if err != nil {
		return Sample{}, err
	}
	argv = r.modes.Wrap(mode, argv)
	scale := w.scale
	if scale == 0 {
		scale = 1
	}
	if w.wallTimed {
		var total time.Duration
		for range n {
			_, _, wall, err := r.command(ctx, argv, dir)
			if err != nil {
				return Sample{}, err
			}
			total += wall
		}
		return Sample{Round: round, Mode: mode, NS: float64(total) / float64(n), Count: n, WallNS: total.Nanoseconds()}, nil
	}
	out, errOut, wall, err := r.command(ctx, argv, dir)
	if err != nil {
		return Sample{}, err
	}
	ns, count, err := parseMarker(out)
	if err != nil {
		return Sample{}, fmt.Errorf("%w; stderr: %s", err, oneLine(errOut))
	}
	return Sample{Round: round, Mode: mode, NS: float64(ns) / float64(count) * scale, Count: count, WallNS: wall.Nanoseconds()}, nil
}

// command runs argv in dir and returns its standard output, the end of its
// standard error, and its wall time; a failure carries that end too.
func (r *runner) command(ctx context.Context, argv []string, dir string) (stdout, stderr string, wall time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, r.env
	var out bytes.Buffer
	errOut := &tailBuffer{max: 2 << 10}
	cmd.Stdout, cmd.Stderr = &out, errOut
	// A process group of its own, killed whole on timeout or Ctrl-C: under
	// 'btfuse run' the command is a grandchild.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if ctx.Err() == context.DeadlineExceeded {
		return "", "", wall, fmt.Errorf("no result after %s", sampleTimeout)
	}
	if err != nil {
		return "", "", wall, fmt.Errorf("%s: %v: %s", strings.Join(shortArgv(argv), " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), wall, nil
}

// parseMarker finds the last "btfuse-bench NS COUNT" line of out.
func parseMarker(out string) (ns int64, count int, err error) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) != 3 || f[0] != Marker {
			continue
		}
		ns, err1 := strconv.ParseInt(f[1], 10, 64)
		count, err2 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2); err != nil || ns < 0 || count <= 0 {
			return 0, 0, fmt.Errorf("bad timing line %q", lines[i])
		}
		return ns, count, nil
	}
	return 0, 0, fmt.Errorf("the command printed no %q timing line", Marker)
}

// shortArgv keeps an error message readable: scripts are cut to their
// first line.
func shortArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if first, _, cut := strings.Cut(a, "\n"); cut {
			a = first + " ..."
		}
		out[i] = a
	}
	return out
}

// commandEnv is the environment of the sample commands: the caller's,
// with a C locale (bash's $EPOCHREALTIME must use a decimal point), git
// configured without any user or system file, and Python allowed to cache
// bytecode.
func commandEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PYTHONDONTWRITEBYTECODE", k == "LC_ALL", k == "BTFUSE_MOUNT", k == "BTFUSE_FAST_LIBRARY", strings.HasPrefix(k, "GIT_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=btfuse bench", "GIT_AUTHOR_EMAIL=bench@btfuse.invalid",
		"GIT_COMMITTER_NAME=btfuse bench", "GIT_COMMITTER_EMAIL=bench@btfuse.invalid")
}

// resolve finds each program in PATH once, so that every sample runs the
// same binary. python3 is taken to its interpreter (sys.executable): a
// version manager's shim (pyenv) is a shell script that would otherwise be
// measured along with Python.
func (r *runner) resolve(names []string) error {
	for _, name := range names {
		if _, ok := r.rep.Programs[name]; ok {
			continue
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return fmt.Errorf("%s not found in PATH; install it (Debian: apt-get install %s) or leave this workload out with --only", name, debianPackage(name))
		}
		if name == "python3" {
			out, err := exec.Command(p, "-c", "import sys; print(sys.executable)").Output()
			if err != nil {
				return fmt.Errorf("%s does not run: %v", p, err)
			}
			if real := strings.TrimSpace(string(out)); real != "" {
				p = real
			}
		}
		r.rep.Programs[name] = p
	}
	return nil
}

func debianPackage(prog string) string {
	if prog == "find" {
		return "findutils"
	}
	if prog == "cat" {
		return "coreutils"
	}
	return prog
}
