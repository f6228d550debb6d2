package fsimpl

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConcurrentStress runs goroutines that create, write, rename, link,
// unlink, list and stat in a few shared directories at once (run it with
// -race), then checks the link counts and that the inode accounting and
// the backing store agree with what is left.
func TestConcurrentStress(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	dirs := []Ino{RootIno}
	for i := 0; i < 3; i++ {
		dirs = append(dirs, mustMkdir(t, fs, Root, fmt.Sprintf("d%d", i), 0o777))
	}
	const workers, iters = 8, 400
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			c := []*Cred{Root, alice, bob}[seed%3]
			pick := func() (Ino, string) {
				return dirs[r.IntN(len(dirs))], fmt.Sprintf("n%d", r.IntN(24))
			}
			for i := 0; i < iters; i++ {
				d, name := pick()
				switch r.IntN(10) {
				case 0:
					a, f, e := fs.Create(c, d, name, unix.O_CREAT|unix.O_RDWR, 0o666)
					if e == 0 {
						fs.Write(f, []byte("some data"), int64(r.IntN(8192)), killer(c))
						fs.Read(f, make([]byte, 16), 0)
						fs.Release(f)
						fs.Forget(a.Ino, 1)
					}
				case 1:
					if a, e := fs.Mkdir(c, d, name, 0o777); e == 0 {
						fs.Forget(a.Ino, 1)
					}
				case 2:
					d2, name2 := pick()
					fs.Rename(c, d, name, d2, name2, uint32(r.IntN(3)))
				case 3:
					fs.Unlink(c, d, name)
				case 4:
					fs.Rmdir(c, d, name)
				case 5:
					if a, e := fs.Lookup(c, d, name); e == 0 {
						d2, name2 := pick()
						if b, e := fs.Link(c, a.Ino, d2, name2); e == 0 {
							fs.Forget(b.Ino, 1)
						}
						fs.GetAttr(a.Ino)
						fs.SetXattr(c, a.Ino, "user.k", []byte("v"), 0)
						fs.ListXattr(c, a.Ino)
						fs.Forget(a.Ino, 1)
					}
				case 6, 7:
					fs.ReadDir(d, uint64(r.IntN(40)), func(e Dirent) bool {
						if e.Name != "." && e.Name != ".." {
							fs.GetAttr(e.Ino)
						}
						return r.IntN(20) != 0
					})
				case 8:
					if a, e := fs.Symlink(c, d, name, "target"); e == 0 {
						fs.Forget(a.Ino, 1)
					}
				case 9:
					fs.StatFs()
					if a, e := fs.Lookup(c, d, name); e == 0 {
						fs.SetAttr(c, a.Ino, &SetAttrIn{Valid: SetMode | SetAtimeNow | SetMtimeNow, Mode: 0o777}, nil)
						fs.Forget(a.Ino, 1)
					}
				}
			}
		}(uint64(w))
	}
	wg.Wait()
	checkLinkCounts(t, fs)
	checkAccounting(t, fs)
}

// checkAccounting verifies, with no references held by anyone, that every
// inode in the table is reachable, that usedInodes counts inodes plus
// extra links, and that each regular file has a backing file.
func checkAccounting(tb testing.TB, fs *FS) {
	tb.Helper()
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	var want uint64
	for ino, n := range fs.inodes {
		if n.refs.Load() != 0 || n.opens != 0 {
			tb.Errorf("inode %d: refs %d opens %d after all were given back", ino, n.refs.Load(), n.opens)
		}
		if n.nlink == 0 && ino != RootIno {
			tb.Errorf("inode %d: unlinked but not freed", ino)
		}
		want++
		if !n.isDir() && n.nlink > 1 {
			want += uint64(n.nlink - 1)
		}
		if n.isReg() && !backingExists(fs, ino) {
			tb.Errorf("inode %d: no backing file", ino)
		}
	}
	if fs.usedInodes != want {
		tb.Errorf("usedInodes %d, want %d", fs.usedInodes, want)
	}
	ents, err := readBackingDir(fs)
	if err != nil {
		tb.Fatal(err)
	}
	regs := 0
	for _, n := range fs.inodes {
		if n.isReg() {
			regs++
		}
	}
	if ents != regs {
		tb.Errorf("%d backing files for %d regular files", ents, regs)
	}
}

// readBackingDir counts the files in the backing directory.
func readBackingDir(fs *FS) (int, error) {
	fd, err := unix.Openat(fs.back.dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	n := 0
	buf := make([]byte, 1<<16)
	for {
		m, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return 0, err
		}
		if m == 0 {
			return n, nil
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:m], -1, names)
		n += len(names)
	}
}

// killer is the killFor argument of a write by c: nil with CAP_FSETID.
func killer(c *Cred) *Cred {
	if c.capable(CapFsetid) {
		return nil
	}
	return c
}
