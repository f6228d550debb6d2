package posixtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// ReaddirRace reads one directory with one open directory stream, in
// getdents64 calls of BufSize bytes, while a second goroutine renames
// entries with plain rename(2) calls. After each getdents64 call the reader
// waits until the renamer has made a few more renames, so that the two
// interleave however the threads are scheduled.
//
// What a reader may see is the kernel's rule for tmpfs (fs/libfs.c
// offset_readdir(), mm/shmem.c shmem_rename2()): an entry renamed before it
// was reached may be missed or seen under its new name, but no name comes
// twice, a pass never returns more entries than the directory held, and a
// pass ends even while entries keep being renamed into the directory.
type ReaddirRace struct {
	Files   int  // files in DIR/d when the pass starts
	BufSize int  // bytes per getdents64 call
	Into    bool // rename entries into d from DIR/src and out again, instead of within d
	Seed    uint64
}

// ReaddirResult is what one pass returned. The caller judges it.
type ReaddirResult struct {
	Files    int      // entries in d when the pass started
	Entries  int      // entries returned, "." and ".." excluded
	Calls    int      // getdents64 calls
	Renames  int      // renames made while the pass ran
	Repeated []string // names returned more than once
	RepIno   int      // entries whose inode number had already come
	Ended    bool     // false: the pass was cut off at Limit() entries
}

// Limit is how many entries a pass may return before it is cut off as
// endless: twice every name the scenario ever puts in d.
func (c ReaddirRace) Limit() int { return 4 * c.Files }

// Problems lists how r breaks the rule above; none on a correct filesystem.
func (r ReaddirResult) Problems() []string {
	var p []string
	if !r.Ended {
		p = append(p, fmt.Sprintf("pass did not end: cut off after %d entries in %d calls (%d renames)", r.Entries, r.Calls, r.Renames))
	}
	if r.Entries > r.Files {
		p = append(p, fmt.Sprintf("%d entries returned from a directory of %d", r.Entries, r.Files))
	}
	if len(r.Repeated) > 0 {
		p = append(p, fmt.Sprintf("%d names returned twice, e.g. %q", len(r.Repeated), r.Repeated[:min(5, len(r.Repeated))]))
	}
	if r.RepIno > 0 {
		p = append(p, fmt.Sprintf("%d entries repeat an inode already returned", r.RepIno))
	}
	if r.Renames == 0 {
		p = append(p, "no rename ran during the pass")
	}
	return p
}

// Run creates DIR/d (and DIR/src) with the scenario's files, then makes
// the pass.
func (c ReaddirRace) Run(dir string) (ReaddirResult, error) {
	d, src := filepath.Join(dir, "d"), filepath.Join(dir, "src")
	for _, p := range []string{d, src} {
		if err := os.Mkdir(p, 0o755); err != nil {
			return ReaddirResult{}, err
		}
	}
	for i := range c.Files {
		if err := sys.Mknod(filepath.Join(d, fmt.Sprintf("f%05d", i)), unix.S_IFREG|0o644, 0); err != nil {
			return ReaddirResult{}, err
		}
		if c.Into {
			if err := sys.Mknod(filepath.Join(src, fmt.Sprintf("s%05d", i)), unix.S_IFREG|0o644, 0); err != nil {
				return ReaddirResult{}, err
			}
		}
	}
	fd, err := sys.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ReaddirResult{}, err
	}
	defer sys.Close(fd)

	rn := newRenamer(c, d, src)
	go rn.run()
	defer rn.stop()

	res := ReaddirResult{Files: c.Files, Ended: true}
	names, inos := map[string]int{}, map[uint64]bool{}
	for {
		ents, e := Getdents(fd, c.BufSize)
		if e != 0 {
			return res, fmt.Errorf("getdents64: %w", e)
		}
		res.Calls++
		if len(ents) == 0 {
			break
		}
		for _, ent := range ents {
			if ent.Name == "." || ent.Name == ".." {
				continue
			}
			res.Entries++
			if names[ent.Name]++; names[ent.Name] == 2 {
				res.Repeated = append(res.Repeated, ent.Name)
			}
			if inos[ent.Ino] {
				res.RepIno++
			}
			inos[ent.Ino] = true
		}
		if res.Entries > c.Limit() {
			res.Ended = false
			break
		}
		// Into: more renames than entries read, so that a reader
		// chasing entries renamed in would never catch up.
		want := 1
		if c.Into {
			want = len(ents) + 1
		}
		rn.await(want)
	}
	res.Renames = rn.stop()
	if rn.err != nil {
		return res, rn.err
	}
	return res, nil
}

// renamer renames entries of d until stopped: each original file once to a
// new name in d, or (Into) a ping-pong that moves a name from src into d
// and another from d out to src, for ever.
type renamer struct {
	c      ReaddirRace
	d, src string

	mu      sync.Mutex
	cond    sync.Cond
	count   int  // renames made
	done    bool // the renamer has nothing left to do, or failed
	stopped bool
	err     error
	exited  chan struct{}
}

func newRenamer(c ReaddirRace, d, src string) *renamer {
	r := &renamer{c: c, d: d, src: src, exited: make(chan struct{})}
	r.cond.L = &r.mu
	return r
}

func (r *renamer) run() {
	defer close(r.exited)
	rng := rand.New(rand.NewPCG(r.c.Seed, 12))
	var step func() error
	if r.c.Into {
		// inD and inSrc are the names in each directory; a name moves
		// in from a random place in src and out from a random place
		// in d, so that read and unread entries are both renamed.
		inD, inSrc := make([]string, r.c.Files), make([]string, r.c.Files)
		for i := range r.c.Files {
			inD[i], inSrc[i] = fmt.Sprintf("f%05d", i), fmt.Sprintf("s%05d", i)
		}
		step = func() error {
			i, j := rng.IntN(len(inSrc)), rng.IntN(len(inD))
			in, out := inSrc[i], inD[j]
			if err := os.Rename(filepath.Join(r.src, in), filepath.Join(r.d, in)); err != nil {
				return err
			}
			if err := os.Rename(filepath.Join(r.d, out), filepath.Join(r.src, out)); err != nil {
				return err
			}
			inSrc[i], inD[j] = out, in
			return nil
		}
	} else {
		order := rng.Perm(r.c.Files)
		step = func() error {
			if len(order) == 0 {
				return errDone
			}
			i := order[0]
			order = order[1:]
			return os.Rename(filepath.Join(r.d, fmt.Sprintf("f%05d", i)), filepath.Join(r.d, fmt.Sprintf("g%05d", i)))
		}
	}
	for {
		r.mu.Lock()
		stopped := r.stopped
		r.mu.Unlock()
		if stopped {
			return
		}
		err := step()
		r.mu.Lock()
		if err == nil {
			r.count++
		} else {
			if err != errDone {
				r.err = err
			}
			r.done = true
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

var errDone = errors.New("nothing left to rename")

// await returns once n more renames have been made, or the renamer is done.
func (r *renamer) await(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for target := r.count + n; r.count < target && !r.done; {
		r.cond.Wait()
	}
}

// stop stops the renamer, waits for it and returns how many renames it made.
func (r *renamer) stop() int {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	<-r.exited
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}
