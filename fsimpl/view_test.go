package fsimpl_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/posixtest"
)

// openView makes fs's metadata view, usable, and a reader of it with the
// backing directory a reader combines regular files with.
func openView(tb testing.TB, fs *fsimpl.FS) (*fsimpl.ViewReader, int) {
	tb.Helper()
	fd, err := fs.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	fs.SetViewMount(1, 2, true)
	r, err := fsimpl.OpenViewReader(fd)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	bfd, err := fs.BackingDir()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(bfd) })
	return r, bfd
}

// viewProbes are the paths the mirror test reads back after every step:
// every name GenerateNames can make, with dots and trailing slashes.
func viewProbes() []string {
	parents := []string{"", "a", "a/b", "c", "c/d", "f", "a/x", "a/b/c/d"}
	names := []string{"a", "b", "c", "d", "f", "x", "y", ".", ".."}
	var ps []string
	for _, p := range parents {
		for _, n := range names {
			q := n
			if p != "" {
				q = p + "/" + n
			}
			if q == ".." {
				continue // leaves the filesystem: the kernel's
			}
			ps = append(ps, q, q+"/", "./"+q+"//")
		}
	}
	return ps
}

// checkView compares what r reads back for every probe with fsimpl's own
// StatAt and ReadlinkAt, and returns how many the view answered.
func checkView(tb testing.TB, fs *fsimpl.FS, r *fsimpl.ViewReader, bfd int, step string) (answered, total int) {
	tb.Helper()
	for _, p := range viewProbes() {
		for _, follow := range []bool{false, true} {
			total++
			va, ve, err := r.Stat(p, follow, bfd)
			if err != nil {
				continue
			}
			answered++
			at := &fsimpl.At{Cred: fsimpl.Root, Dir: fsimpl.RootIno, Path: p}
			if follow {
				at.Flags = fsimpl.AtFollow
			}
			fa, fe := fs.StatAt(at)
			fa.Volatile = false
			if ve != fe || (fe == 0 && va != fa) {
				tb.Fatalf("%s: stat %q follow=%v: view %v %+v, fsimpl %v %+v", step, p, follow, ve, va, fe, fa)
			}
		}
		vt, ve, err := r.Readlink(p)
		total++
		if err != nil {
			continue
		}
		answered++
		ft, fe := fs.ReadlinkAt(&fsimpl.At{Cred: fsimpl.Root, Dir: fsimpl.RootIno, Path: p})
		if ve != fe || vt != ft {
			tb.Fatalf("%s: readlink %q: view %v %q, fsimpl %v %q", step, p, ve, vt, fe, ft)
		}
	}
	return answered, total
}

// TestViewMirror runs posixtest's names sequences through fsimpl's *At
// operations and, after every step, reads back every probe path through
// the metadata view and compares it with fsimpl's own answer: a change
// the view does not mirror shows as a difference at the step that made
// it.
func TestViewMirror(t *testing.T) {
	for _, kind := range backingKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			seeds := uint64(3)
			if testing.Short() {
				seeds = 1
			}
			for seed := uint64(1); seed <= seeds; seed++ {
				fs := newFS(t, kind)
				// A view made on a tree that already has entries
				// starts from it.
				d := fsDoor{fs: fs}
				ops := posixtest.GenerateNames(seed, 400)
				for _, op := range ops[:50] {
					d.Apply(op)
				}
				r, bfd := openView(t, fs)
				answered, total := 0, 0
				for i, op := range ops[50:] {
					d.Apply(op)
					a, n := checkView(t, fs, r, bfd, fmt.Sprintf("seed %d step %d (%s)", seed, i+50, op))
					answered += a
					total += n
				}
				// The view must answer most probes, not pass them all.
				if answered*4 < total {
					t.Fatalf("seed %d: the view answered %d of %d probes", seed, answered, total)
				}
				t.Logf("seed %d: the view answered %d of %d probes", seed, answered, total)
			}
		})
	}
}

func backingKinds() []fsimpl.BackingKind {
	return []fsimpl.BackingKind{fsimpl.BackingShm, fsimpl.BackingTmpfs}
}

// viewOps is a random sequence of changes built to succeed often, through
// both of fsimpl's APIs (paths, and inode numbers as the FUSE door calls
// them), touching every field the view mirrors: names, link counts,
// directory sizes, modes, owners, times, xattrs, symlink targets short and
// long, open Files (Volatile), and atimes of followed links and read
// directories.
type viewOps struct {
	fs    *fsimpl.FS
	r     *rand.Rand
	files []*fsimpl.File
}

var viewNames = []string{"a", "b", "c", "d", "a-rather-long-name-that-does-not-fit-inline-in-the-view"}

func (g *viewOps) path() string {
	n := 1 + g.r.IntN(3)
	p := viewNames[g.r.IntN(len(viewNames))]
	for i := 1; i < n; i++ {
		p += "/" + viewNames[g.r.IntN(4)]
	}
	return p
}

func (g *viewOps) at(p string, follow bool) *fsimpl.At {
	at := &fsimpl.At{Cred: fsimpl.Root, Dir: fsimpl.RootIno, Path: p}
	if follow {
		at.Flags = fsimpl.AtFollow
	}
	return at
}

// ino is the inode at p, or 0.
func (g *viewOps) ino(p string) fsimpl.Ino {
	a, e := g.fs.StatAt(g.at(p, false))
	if e != 0 {
		return 0
	}
	return a.Ino
}

func (g *viewOps) step() string {
	fs, p, q := g.fs, g.path(), g.path()
	switch k := g.r.IntN(22); k {
	case 0, 1:
		_, e := fs.MkdirAt(g.at(p, false), []uint32{0o755, 0o700, 0o1777, 0o711}[g.r.IntN(4)])
		return fmt.Sprintf("mkdir %s: %v", p, e)
	case 2, 3:
		fl := unix.O_CREAT | unix.O_RDWR
		if g.r.IntN(3) == 0 {
			fl |= unix.O_TRUNC
		}
		f, e := fs.OpenAt(g.at(p, true), fl, 0o644, g.r.IntN(3) == 0)
		if e == 0 {
			if g.r.IntN(3) == 0 {
				fs.HandOut(f)
			}
			g.files = append(g.files, f)
		}
		return fmt.Sprintf("create %s: %v", p, e)
	case 4:
		t := []string{"a", "b/c", "nowhere", "/abs", "..", strings.Repeat("x/", 80) + "a"}[g.r.IntN(6)]
		_, e := fs.SymlinkAt(t, g.at(p, false))
		return fmt.Sprintf("symlink %s -> %s: %v", p, t, e)
	case 5:
		_, e := fs.LinkAt(g.at(p, false), g.at(q, false))
		return fmt.Sprintf("link %s %s: %v", p, q, e)
	case 6, 7:
		e := fs.UnlinkAt(g.at(p, false), g.r.IntN(2) == 0)
		return fmt.Sprintf("unlink %s: %v", p, e)
	case 8, 9:
		fl := []uint32{0, 0, fsimpl.RenameNoReplace, fsimpl.RenameExchange}[g.r.IntN(4)]
		e := fs.RenameAt(g.at(p, false), g.at(q, false), fl)
		return fmt.Sprintf("rename %s %s %d: %v", p, q, fl, e)
	case 10:
		m := []uint32{0o755, 0o700, 0o644, 0o4755, 0o2755, 0o1777, 0o711, 0o555}[g.r.IntN(8)]
		e := fs.SetAttrAt(g.at(p, true), &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: m})
		return fmt.Sprintf("chmod %s %o: %v", p, m, e)
	case 11:
		e := fs.SetAttrAt(g.at(p, false), &fsimpl.SetAttrIn{Valid: fsimpl.SetUID | fsimpl.SetGID, UID: 1000, GID: 1000})
		return fmt.Sprintf("chown %s: %v", p, e)
	case 12:
		e := fs.SetAttrAt(g.at(p, false), &fsimpl.SetAttrIn{Valid: fsimpl.SetAtime | fsimpl.SetMtime,
			Atime: unix.Timespec{Sec: 1000}, Mtime: unix.Timespec{Sec: 2000}})
		return fmt.Sprintf("utimes %s: %v", p, e)
	case 13:
		e := fs.SetAttrAt(g.at(p, true), &fsimpl.SetAttrIn{Valid: fsimpl.SetSize, Size: uint64(g.r.IntN(10000))})
		return fmt.Sprintf("truncate %s: %v", p, e)
	case 14:
		e := fs.SetXattrAt(g.at(p, false), "user.v", []byte("x"), 0)
		if g.r.IntN(2) == 0 {
			e = fs.RemoveXattrAt(g.at(p, false), "user.v")
		}
		return fmt.Sprintf("xattr %s: %v", p, e)
	case 15:
		_, e := fs.ReadlinkAt(g.at(p, false))
		_, e2 := fs.StatAt(g.at(p, true))
		return fmt.Sprintf("readlink+stat %s: %v %v", p, e, e2)
	case 16:
		ino := g.ino(p)
		e := fs.ReadDir(ino, 0, func(fsimpl.Dirent) bool { return true })
		return fmt.Sprintf("readdir %s: %v", p, e)
	case 17:
		if len(g.files) == 0 {
			return "no file"
		}
		i := g.r.IntN(len(g.files))
		f := g.files[i]
		if g.r.IntN(2) == 0 {
			_, e := fs.Write(f, []byte("data"), int64(g.r.IntN(5000)), fsimpl.Root)
			return fmt.Sprintf("write %d: %v", f.Ino, e)
		}
		fs.Release(f)
		g.files = append(g.files[:i], g.files[i+1:]...)
		return fmt.Sprintf("release %d", f.Ino)
	case 18: // the FUSE door's calls, by inode
		dir, name := fsimpl.RootIno, viewNames[g.r.IntN(4)]
		if i := g.ino(p); i != 0 && g.r.IntN(2) == 0 {
			dir = i
		}
		switch g.r.IntN(4) {
		case 0:
			_, e := fs.Mkdir(fsimpl.Root, dir, name, 0o755)
			return fmt.Sprintf("Mkdir %d %s: %v", dir, name, e)
		case 1:
			e := fs.Unlink(fsimpl.Root, dir, name)
			return fmt.Sprintf("Unlink %d %s: %v", dir, name, e)
		case 2:
			e := fs.Rmdir(fsimpl.Root, dir, name)
			return fmt.Sprintf("Rmdir %d %s: %v", dir, name, e)
		default:
			e := fs.Rename(fsimpl.Root, dir, name, fsimpl.RootIno, viewNames[g.r.IntN(4)], 0)
			return fmt.Sprintf("Rename %d %s: %v", dir, name, e)
		}
	case 19:
		ino := g.ino(p)
		_, e := fs.SetAttr(fsimpl.Root, ino, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: 0o750}, nil)
		return fmt.Sprintf("SetAttr %d: %v", ino, e)
	case 20:
		ino := g.ino(p)
		_, e := fs.Symlink(fsimpl.Root, fsimpl.RootIno, viewNames[g.r.IntN(4)], "c")
		_, e2 := fs.Link(fsimpl.Root, ino, fsimpl.RootIno, viewNames[g.r.IntN(4)])
		return fmt.Sprintf("Symlink/Link %d: %v %v", ino, e, e2)
	default:
		// Age a symlink's atime so that the next follow updates it.
		e := fs.SetAttrAt(g.at(p, false), &fsimpl.SetAttrIn{Valid: fsimpl.SetAtime, Atime: unix.Timespec{Sec: 10}})
		return fmt.Sprintf("age %s: %v", p, e)
	}
}

// viewProbesOf are the probe paths of viewOps.
func viewProbesOf() []string {
	var ps []string
	for _, a := range viewNames {
		ps = append(ps, a, a+"/", a+"/.", a+"/..")
		for _, b := range viewNames[:4] {
			ps = append(ps, a+"/"+b, a+"/"+b+"/")
			for _, c := range viewNames[:4] {
				ps = append(ps, a+"/"+b+"/"+c)
			}
		}
	}
	return ps
}

// TestViewMirrorRandom is TestViewMirror over viewOps, whose steps mostly
// succeed: every change to an inode or a name must show in the view at
// once.
func TestViewMirrorRandom(t *testing.T) {
	steps := 3000
	if testing.Short() {
		steps = 800
	}
	for _, kind := range backingKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newFS(t, kind)
			g := &viewOps{fs: fs, r: rand.New(rand.NewPCG(7, uint64(kind)))}
			defer func() {
				for _, f := range g.files {
					fs.Release(f)
				}
			}()
			r, bfd := openView(t, fs)
			answered, total, ok := 0, 0, 0
			var hist []string
			for i := 0; i < steps; i++ {
				s := g.step()
				if strings.HasSuffix(s, ": errno 0") || strings.HasSuffix(s, " 0") || !strings.Contains(s, ":") {
					ok++
				}
				hist = append(hist, s)
				if len(hist) > 8 {
					hist = hist[1:]
				}
				if err := fs.CheckView(); err != nil {
					t.Fatalf("step %d: %v\nafter:\n  %s", i, err, strings.Join(hist, "\n  "))
				}
				// From a directory descriptor: relative walks from
				// each directory among the names.
				for _, d := range viewNames {
					dir := g.ino(d)
					if dir == 0 {
						continue
					}
					for _, p := range []string{"a", "b/c", ".", "..", "c/", "d/.."} {
						total++
						va, ve, err := r.StatFrom(dir, p, false, bfd)
						if err != nil {
							continue
						}
						answered++
						fa, fe := fs.StatAt(&fsimpl.At{Cred: fsimpl.Root, Dir: dir, Path: p})
						fa.Volatile = false
						if ve != fe || (fe == 0 && va != fa) {
							t.Fatalf("step %d: stat %q from %s: view %v %+v, fsimpl %v %+v", i, p, d, ve, va, fe, fa)
						}
					}
				}
				for _, p := range viewProbesOf() {
					for _, follow := range []bool{false, true} {
						total++
						va, ve, err := r.Stat(p, follow, bfd)
						if err != nil {
							continue
						}
						answered++
						fa, fe := fs.StatAt(g.at(p, follow))
						fa.Volatile = false
						if ve != fe || (fe == 0 && va != fa) {
							t.Fatalf("step %d: stat %q follow=%v: view %v %+v, fsimpl %v %+v\nafter:\n  %s", i, p, follow, ve, va, fe, fa, strings.Join(hist, "\n  "))
						}
					}
				}
			}
			if answered*4 < total {
				t.Fatalf("the view answered %d of %d probes", answered, total)
			}
			t.Logf("the view answered %d of %d probes", answered, total)
		})
	}
}

// TestViewConcurrent reads the view in a loop while another goroutine
// swaps two entries (a directory and a file) with RENAME_EXCHANGE and
// flips their modes: every answer must be one of the states the two
// inodes were in, never the name of one with the attributes of the other.
func TestViewConcurrent(t *testing.T) {
	fs := newFS(t, fsimpl.BackingTmpfs)
	root := func(p string) *fsimpl.At { return &fsimpl.At{Cred: fsimpl.Root, Dir: fsimpl.RootIno, Path: p} }
	d, e := fs.MkdirAt(root("x"), 0o755)
	if e != 0 {
		t.Fatal(e)
	}
	f, e := fs.OpenAt(root("y"), unix.O_CREAT|unix.O_RDWR, 0o640, false)
	if e != 0 {
		t.Fatal(e)
	}
	fs.Release(f)
	if e := fs.SetAttrAt(root("y"), &fsimpl.SetAttrIn{Valid: fsimpl.SetUID, UID: 2000}); e != 0 {
		t.Fatal(e)
	}
	r, bfd := openView(t, fs)
	// What each inode may look like: its type and owner never change, its
	// mode flips between two values.
	ok := map[fsimpl.Ino]map[uint32]uint32{
		d.Ino: {unix.S_IFDIR | 0o755: 0, unix.S_IFDIR | 0o711: 1000},
		f.Ino: {unix.S_IFREG | 0o600: 1000, unix.S_IFREG | 0o640: 2000},
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var answers atomic.Int64
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for _, p := range []string{"x", "y"} {
					a, e, err := r.Stat(p, false, bfd)
					if err != nil {
						continue
					}
					answers.Add(1)
					if e != 0 {
						t.Errorf("stat %s: %v", p, e)
						return
					}
					uid, good := ok[a.Ino][a.Mode]
					if !good || uid != a.UID {
						t.Errorf("stat %s: torn: ino %d mode %o uid %d", p, a.Ino, a.Mode, a.UID)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 20000 && !t.Failed(); i++ {
		if e := fs.RenameAt(root("x"), root("y"), fsimpl.RenameExchange); e != 0 {
			t.Fatal(e)
		}
		// Mode and owner change together, in one call: a reader that
		// saw one without the other read a torn slot.
		m, u := []uint32{0o755, 0o711}[i%2], []uint32{0, 1000}[i%2]
		fm, fu := []uint32{0o600, 0o640}[i%2], []uint32{1000, 2000}[i%2]
		if _, e := fs.SetAttr(fsimpl.Root, d.Ino, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode | fsimpl.SetUID, Mode: m, UID: u}, nil); e != 0 {
			t.Fatal(e)
		}
		if _, e := fs.SetAttr(fsimpl.Root, f.Ino, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode | fsimpl.SetUID, Mode: fm, UID: fu}, nil); e != 0 {
			t.Fatal(e)
		}
	}
	stop.Store(true)
	wg.Wait()
	if answers.Load() == 0 {
		t.Fatal("the view answered nothing")
	}
	t.Logf("%d answers", answers.Load())
}
