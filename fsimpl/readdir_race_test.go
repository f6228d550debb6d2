package fsimpl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/posixtest"
)

// TestReadDirRenameLikeTmpfs reads a directory in small batches, resuming
// from the last offset each time, and renames three of its files to new
// names between batches, on a kernel tmpfs (getdents64) and on fsimpl
// (ReadDir) in lockstep. fsimpl must return what tmpfs returns, batch by
// batch: newest first, an entry renamed before it was reached missed, one
// renamed after it was read not again; no name twice.
func TestReadDirRenameLikeTmpfs(t *testing.T) {
	const files, bufSize, perStep = 600, 256, 3
	ref := filepath.Join(tmpfsDir(t), "d")
	if err := os.Mkdir(ref, 0o755); err != nil {
		t.Fatal(err)
	}
	fs := newTestFS(t, Options{Backing: BackingShm})
	d := mustMkdir(t, fs, Root, "d", 0o755)
	present := make([]string, files)
	for i := range present {
		present[i] = fmt.Sprintf("f%04d", i)
		if err := unix.Mknod(filepath.Join(ref, present[i]), unix.S_IFIFO|0o644, 0); err != nil {
			t.Fatal(err)
		}
		mknodT(t, fs, d, present[i])
	}
	fd, err := unix.Open(ref, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	rng := rand.New(rand.NewPCG(1, 2))
	var want, got [][]string
	var off uint64
	renamed := 0
	for {
		ents, e := posixtest.Getdents(fd, bufSize)
		if e != 0 {
			t.Fatal(e)
		}
		if len(ents) == 0 {
			break
		}
		var w, g []string
		for _, ent := range ents {
			w = append(w, ent.Name)
		}
		fs.ReadDir(d, off, func(e Dirent) bool {
			g = append(g, e.Name)
			off = e.Off
			return len(g) < len(w)
		})
		want, got = append(want, w), append(got, g)
		for range perStep {
			i := rng.IntN(len(present))
			to := fmt.Sprintf("r%05d", renamed)
			renamed++
			if err := unix.Rename(filepath.Join(ref, present[i]), filepath.Join(ref, to)); err != nil {
				t.Fatal(err)
			}
			if e := fs.Rename(Root, d, present[i], d, to, 0); e != 0 {
				t.Fatal(e)
			}
			present[i] = to
		}
	}
	// What fsimpl still has after tmpfs ended is part of its pass.
	var rest []string
	fs.ReadDir(d, off, func(e Dirent) bool { rest = append(rest, e.Name); return len(rest) <= 4*files })
	got = append(got, rest)

	for side, batches := range map[string][][]string{"tmpfs": want, "fsimpl": got} {
		if p := passProblems(slices.Concat(batches...), files); len(p) > 0 {
			t.Errorf("%s: %s", side, strings.Join(p, "; "))
		}
	}
	for i := range max(len(want), len(got)) {
		var w, g []string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if !slices.Equal(w, g) {
			t.Fatalf("batch %d differs:\n  tmpfs:  %v\n  fsimpl: %v", i, w, g)
		}
	}
}

// passProblems checks one readdir pass over a directory that held files
// entries when it started: no name twice, no more entries than that.
func passProblems(names []string, files int) []string {
	var p []string
	seen, n := map[string]bool{}, 0
	for _, name := range names {
		if name == "." || name == ".." {
			continue
		}
		n++
		if seen[name] {
			p = append(p, fmt.Sprintf("%s returned twice", name))
		}
		seen[name] = true
	}
	if n > files {
		p = append(p, fmt.Sprintf("%d entries from a directory of %d", n, files))
	}
	return p[:min(len(p), 6)]
}

// TestReadDirRenameNoRepeat reads a directory a few entries at a time while
// its entries are renamed between batches in each way rename(2) can move a
// name: to a new name, over another entry, exchanged, with a whiteout, out
// to another directory and back, and into it from another directory faster
// than the reader reads. Whatever the kind, a pass must end, return no name
// and no inode twice and no more entries than the directory held; a cookie
// handed out during the pass must still resume right after its position.
// tmpfs itself can repeat entries after rename over another entry or an
// exchange (its moved dentry keeps the replaced offset but goes to the head
// of the list it walks), so these are checked against the rule alone.
func TestReadDirRenameNoRepeat(t *testing.T) {
	const files, batch = 400, 5
	kinds := []struct {
		name string
		step func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno
	}{
		{"new name", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			return fs.Rename(Root, d, a, d, fmt.Sprintf("r%05d", n), 0)
		}},
		{"over another", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			return fs.Rename(Root, d, a, d, b, 0)
		}},
		{"exchange", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			return fs.Rename(Root, d, a, d, b, RenameExchange)
		}},
		{"whiteout", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			return fs.Rename(Root, d, a, d, fmt.Sprintf("r%05d", n), renameWhiteout)
		}},
		{"out and back", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			if e := fs.Rename(Root, d, a, src, a, 0); e != 0 {
				return e
			}
			return fs.Rename(Root, src, a, d, a, 0)
		}},
		{"into, faster than read", func(tb testing.TB, fs *FS, d, src Ino, r *rand.Rand, a, b string, n int) unix.Errno {
			// batch+1 names in from src, batch+1 out: a reader that
			// chased entries renamed in would never reach the end.
			for range batch + 1 {
				in := names(tb, fs, src)[r.IntN(files)]
				if e := fs.Rename(Root, src, in, d, in, 0); e != 0 {
					return e
				}
				out := names(tb, fs, d)[r.IntN(files)]
				if e := fs.Rename(Root, d, out, src, out, 0); e != 0 {
					return e
				}
			}
			return 0
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			d := mustMkdir(t, fs, Root, "d", 0o755)
			src := mustMkdir(t, fs, Root, "src", 0o755)
			for i := range files {
				mknodT(t, fs, d, fmt.Sprintf("f%04d", i))
				mknodT(t, fs, src, fmt.Sprintf("s%04d", i))
			}
			r := rand.New(rand.NewPCG(3, 4))
			var pass []string
			inos := map[Ino]bool{}
			var off, saved uint64
			var repIno []string // names that repeat an inode already returned
			for n := 0; ; n++ {
				got := 0
				fs.ReadDir(d, off, func(e Dirent) bool {
					pass = append(pass, e.Name)
					if e.Name != "." && e.Name != ".." {
						if inos[e.Ino] {
							repIno = append(repIno, e.Name)
						}
						inos[e.Ino] = true
					}
					off = e.Off
					got++
					return got < batch
				})
				if got == 0 {
					break
				}
				if len(pass) > 4*files {
					t.Fatalf("pass did not end: %d entries", len(pass))
				}
				if n == files/batch/3 {
					saved = off
				}
				cur := names(t, fs, d)
				a, b := cur[r.IntN(len(cur))], cur[r.IntN(len(cur))]
				if a == b {
					continue
				}
				if e := k.step(t, fs, d, src, r, a, b, n); e != 0 {
					t.Fatalf("step %d: %v", n, e)
				}
			}
			for _, p := range passProblems(pass, files) {
				t.Error(p)
			}
			if len(repIno) > 0 {
				t.Errorf("%d entries repeat an inode already returned, e.g. %v", len(repIno), repIno[:min(5, len(repIno))])
			}

			// The saved cookie resumes right after its position: the
			// entries of a full listing whose cookie is below it.
			var wantRest, gotRest []string
			fs.ReadDir(d, 0, func(e Dirent) bool {
				if e.Off > dotDotCookie && e.Off < saved {
					wantRest = append(wantRest, e.Name)
				}
				return true
			})
			fs.ReadDir(d, saved, func(e Dirent) bool { gotRest = append(gotRest, e.Name); return true })
			if !slices.Equal(wantRest, gotRest) {
				t.Errorf("resuming from cookie %d: %v, want %v", saved, gotRest, wantRest)
			}
		})
	}
}
