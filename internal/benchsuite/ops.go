package benchsuite

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The micro-operations run inside 'btfuse __benchop OP DIR N [ARG]', a
// process of their own, so that in run mode their syscalls go through the
// supervisor like any program's. The path operations loop in C through
// libc (ops_libc.go), where the fast lane meets programs; the descriptor
// operations use bare syscalls (golang.org/x/sys/unix) rather than package
// os, which adds calls of its own (epoll registration, fstat) that would be
// measured too.

const (
	block4K = 4 << 10
	block1M = 1 << 20
)

// op is one micro-operation: prepare builds what the loop needs (untimed),
// loop runs n iterations.
type op struct {
	prepare func(dir string, n, arg int) (state, error)
	loop    func(s state, n int) error
}

// state is what prepare hands to loop.
type state struct {
	dir   string
	path  string
	fd    int
	buf   []byte
	names []string
	offs  []int64
	c     *cArgs // C strings of the paths, for the libc loops
}

// ops is built on first use (see workloads).
var ops = sync.OnceValue(func() map[string]op {
	m := libcOps()
	maps.Copy(m, map[string]op{
		"pread": {prepare: openFileOf(block4K), loop: func(s state, n int) error {
			for range n {
				if _, err := unix.Pread(s.fd, s.buf, 0); err != nil {
					return fmt.Errorf("pread: %w", err)
				}
			}
			return nil
		}},
		// seqwrite writes n MiB to a new file in 1 MiB blocks.
		"seqwrite": {prepare: func(dir string, n, _ int) (state, error) {
			return state{path: filepath.Join(dir, "seq"), buf: filled(block1M)}, nil
		}, loop: func(s state, n int) error {
			fd, err := unix.Open(s.path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			defer unix.Close(fd)
			for range n {
				if err := writeFull(fd, s.buf); err != nil {
					return err
				}
			}
			return nil
		}},
		// seqread reads a file of n MiB in 1 MiB blocks.
		"seqread": {prepare: func(dir string, n, _ int) (state, error) {
			s, err := openFileOf(n*block1M)(dir, n, 0)
			s.buf = make([]byte, block1M)
			return s, err
		}, loop: func(s state, n int) error {
			for i := range n {
				if err := preadFull(s.fd, s.buf, int64(i)*block1M); err != nil {
					return err
				}
			}
			return nil
		}},
		// randread reads n 4K blocks at random aligned offsets of an arg MiB file.
		"randread": {prepare: func(dir string, n, arg int) (state, error) {
			s, err := openFileOf(arg*block1M)(dir, n, 0)
			if err != nil {
				return s, err
			}
			s.buf = make([]byte, block4K)
			r := rand.New(rand.NewPCG(1, 2)) // the same offsets in every mode
			blocks := int64(arg) * block1M / block4K
			s.offs = make([]int64, n)
			for i := range s.offs {
				s.offs[i] = r.Int64N(blocks) * block4K
			}
			return s, nil
		}, loop: func(s state, n int) error {
			for i := range n {
				if err := preadFull(s.fd, s.buf, s.offs[i]); err != nil {
					return err
				}
			}
			return nil
		}},
	})
	return m
})

// OpNames lists the micro-operations RunOp knows.
func OpNames() []string {
	names := make([]string, 0, len(ops()))
	for name := range ops() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// RunOp prepares op in dir, runs n iterations of it and returns the time of
// the loop alone. arg is op-specific: entries of the readdir
// directory, MiB of the randread file.
func RunOp(name, dir string, n, arg int) (time.Duration, error) {
	o, ok := ops()[name]
	if !ok {
		return 0, fmt.Errorf("unknown operation %q (known: %v)", name, OpNames())
	}
	if n <= 0 {
		return 0, fmt.Errorf("iterations must be positive, got %d", n)
	}
	s, err := o.prepare(dir, n, arg)
	if err != nil {
		return 0, fmt.Errorf("prepare %s: %w", name, err)
	}
	if s.fd > 0 {
		defer unix.Close(s.fd)
	}
	start := time.Now()
	if err := o.loop(s, n); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// ParseOpArgs parses the arguments of 'btfuse __benchop': OP DIR N [ARG].
func ParseOpArgs(args []string) (name, dir string, n, arg int, err error) {
	if len(args) != 3 && len(args) != 4 {
		return "", "", 0, 0, fmt.Errorf("want OP DIR N [ARG], got %d arguments", len(args))
	}
	if n, err = strconv.Atoi(args[2]); err != nil {
		return "", "", 0, 0, fmt.Errorf("iterations %q: %w", args[2], err)
	}
	if len(args) == 4 {
		if arg, err = strconv.Atoi(args[3]); err != nil {
			return "", "", 0, 0, fmt.Errorf("argument %q: %w", args[3], err)
		}
	}
	return args[0], args[1], n, arg, nil
}

// fileOf prepares one file of size bytes, named f.
func fileOf(size int) func(dir string, n, arg int) (state, error) {
	return func(dir string, n, arg int) (state, error) {
		p := filepath.Join(dir, "f")
		if err := writeFile(p, size); err != nil {
			return state{}, err
		}
		return state{dir: dir, path: p, buf: make([]byte, block4K)}, nil
	}
}

// openFileOf is fileOf with the file held open for reading.
func openFileOf(size int) func(dir string, n, arg int) (state, error) {
	return func(dir string, n, arg int) (state, error) {
		s, err := fileOf(size)(dir, n, arg)
		if err != nil {
			return s, err
		}
		s.fd, err = unix.Open(s.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return s, fmt.Errorf("open %s: %w", s.path, err)
		}
		return s, nil
	}
}

// namesOf prepares n path names (not files) with prefix, and a 4K buffer.
func namesOf(prefix string) func(dir string, n, arg int) (state, error) {
	return func(dir string, n, arg int) (state, error) {
		s := state{dir: dir, names: make([]string, n), buf: filled(block4K)}
		for i := range s.names {
			s.names[i] = filepath.Join(dir, prefix+strconv.Itoa(i))
		}
		return s, nil
	}
}

// filesOf is namesOf with empty files created under the names.
func filesOf(prefix string) func(dir string, n, arg int) (state, error) {
	return func(dir string, n, arg int) (state, error) {
		s, _ := namesOf(prefix)(dir, n, arg)
		for _, p := range s.names {
			if err := writeFile(p, 0); err != nil {
				return s, err
			}
		}
		return s, nil
	}
}

// outsideFile names a file outside every mount of the bench: this
// program's own binary. Its stat measures what a path call costs that the
// filesystem under test has nothing to do with.
func outsideFile(dir string, n, arg int) (state, error) {
	exe, err := os.Executable()
	if err != nil {
		return state{}, err
	}
	return state{dir: dir, path: exe}, nil
}

// readdirTree prepares a directory of arg empty files, or takes the one a
// previous round made.
func readdirTree(dir string, n, arg int) (state, error) {
	d := filepath.Join(dir, fmt.Sprintf("dir%d", arg))
	var st unix.Stat_t
	if unix.Stat(d, &st) == nil {
		return state{dir: d, buf: make([]byte, 32<<10)}, nil
	}
	// Built under a temporary name, so that a half-made tree (the
	// process was killed) is never taken for a whole one.
	tmp := d + ".tmp"
	os.RemoveAll(tmp)
	if err := unix.Mkdir(tmp, 0o755); err != nil {
		return state{}, fmt.Errorf("mkdir %s: %w", d, err)
	}
	if _, err := filesOf("e")(tmp, arg, 0); err != nil {
		return state{}, err
	}
	if err := unix.Rename(tmp, d); err != nil {
		return state{}, fmt.Errorf("rename %s: %w", tmp, err)
	}
	return state{dir: d, buf: make([]byte, 32<<10)}, nil
}

func filled(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// writeFile creates p with size bytes, in 1 MiB writes.
func writeFile(p string, size int) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	defer unix.Close(fd)
	buf := filled(min(size, block1M))
	for size > 0 {
		chunk := buf[:min(size, len(buf))]
		if err := writeFull(fd, chunk); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		size -= len(chunk)
	}
	return nil
}

func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func preadFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pread(fd, b, off)
		if err != nil {
			return fmt.Errorf("pread: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("pread at %d: unexpected end of file", off)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
