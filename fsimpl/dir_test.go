package fsimpl

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadDirOffsets(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	for i := 0; i < 5; i++ {
		mustFile(t, fs, Root, fmt.Sprintf("f%d", i), 0o644, "")
	}
	all := []Dirent{}
	if e := fs.ReadDir(RootIno, 0, func(d Dirent) bool { all = append(all, d); return true }); e != 0 {
		t.Fatal(e)
	}
	// Newest first, as tmpfs lists them.
	if len(all) != 7 || all[0].Name != "." || all[0].Off != 1 || all[1].Name != ".." || all[1].Off != 2 ||
		all[2].Name != "f4" || all[6].Name != "f0" || all[6].Off != 3 {
		t.Fatalf("listing %+v", all)
	}
	for i, d := range all {
		t.Run(fmt.Sprintf("from %d", d.Off), func(t *testing.T) {
			var got []string
			fs.ReadDir(RootIno, d.Off, func(d Dirent) bool { got = append(got, d.Name); return true })
			if len(got) != len(all)-i-1 || (len(got) > 0 && got[0] != all[i+1].Name) {
				t.Errorf("got %v", got)
			}
		})
	}
	t.Run("stop early", func(t *testing.T) {
		n := 0
		fs.ReadDir(RootIno, 0, func(Dirent) bool { n++; return n < 3 })
		if n != 3 {
			t.Errorf("fn called %d times", n)
		}
	})
	t.Run("not a dir", func(t *testing.T) {
		if e := fs.ReadDir(mustWalk(t, fs, "f0"), 0, func(Dirent) bool { return true }); e != unix.ENOTDIR {
			t.Errorf("got %v", e)
		}
	})
	t.Run("past end", func(t *testing.T) {
		n := 0
		fs.ReadDir(RootIno, all[len(all)-1].Off, func(Dirent) bool { n++; return true })
		if n != 0 {
			t.Errorf("got %d entries", n)
		}
	})
}

// TestReadDirCookieStability walks a directory a few entries at a time,
// resuming from the last cookie like telldir/seekdir, while other entries
// are created, removed and renamed over between steps. Every entry present
// for the whole walk must come back exactly once, no name twice, entries
// created after the walk returned its first real entry never (they are
// newer than where it resumes), and cookies only shrink.
func TestReadDirCookieStability(t *testing.T) {
	const stable = 300
	for _, step := range []int{1, 7, 200} {
		t.Run(fmt.Sprintf("step %d", step), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			d := mustMkdir(t, fs, Root, "d", 0o755)
			for i := 0; i < stable; i++ {
				mknodT(t, fs, d, fmt.Sprintf("s%03d", i))
				mknodT(t, fs, d, fmt.Sprintf("t%03d", i))
			}
			seen := map[string]int{}
			late := map[string]bool{} // created after the first real entry
			var off uint64
			churn := 0
			for {
				n := 0
				last := off
				fs.ReadDir(d, off, func(e Dirent) bool {
					if last > dotDotCookie && e.Off >= last {
						t.Errorf("cookie %d after %d", e.Off, last)
					}
					last = e.Off
					seen[e.Name]++
					n++
					return n < step
				})
				if n == 0 {
					break
				}
				off = last
				if churn == 300 {
					continue // let the walk finish
				}
				// Churn: remove transient entries, add new ones,
				// rename a transient over another name.
				for k := 0; k < 3; k++ {
					name := fmt.Sprintf("t%03d", (churn*7+k)%stable)
					fs.Unlink(Root, d, name)
					name = fmt.Sprintf("n%05d", churn*3+k)
					mknodT(t, fs, d, name)
					late[name] = off > dotDotCookie
				}
				fs.Rename(Root, d, fmt.Sprintf("n%05d", churn*3), d, fmt.Sprintf("t%03d", churn%stable), 0)
				churn++
			}
			for i := 0; i < stable; i++ {
				if name := fmt.Sprintf("s%03d", i); seen[name] != 1 {
					t.Errorf("%s seen %d times", name, seen[name])
				}
			}
			for name, n := range seen {
				if n > 1 || (late[name] && n != 0) {
					t.Errorf("%s seen %d times", name, n)
				}
			}
			if seen["."] != 1 || seen[".."] != 1 {
				t.Errorf("dots: %d %d", seen["."], seen[".."])
			}
		})
	}
}

func TestDirCompaction(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	d := mustMkdir(t, fs, Root, "d", 0o755)
	for i := 0; i < 1000; i++ {
		mknodT(t, fs, d, fmt.Sprintf("x%d", i))
	}
	for i := 0; i < 990; i++ {
		if e := fs.Unlink(Root, d, fmt.Sprintf("x%d", i)); e != 0 {
			t.Fatal(e)
		}
	}
	fs.mu.RLock()
	slots := len(fs.inodes[d].dir.ents)
	fs.mu.RUnlock()
	if slots > 100 {
		t.Errorf("%d slots for 10 entries: no compaction", slots)
	}
	if got := names(t, fs, d); len(got) != 10 || got[0] != "x999" || got[9] != "x990" {
		t.Errorf("after compaction: %v", got)
	}
	if a := mustAttr(t, fs, d); a.Size != 12*bogoDirentSize {
		t.Errorf("size %d", a.Size)
	}
}

func TestOpenDir(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	mustMkdir(t, fs, Root, "d", 0o711)
	f := mustFile(t, fs, Root, "f", 0o644, "")
	tests := []struct {
		c    *Cred
		ino  Ino
		want unix.Errno
	}{
		{Root, mustWalk(t, fs, "d"), 0},
		{alice, mustWalk(t, fs, "d"), unix.EACCES},
		{alice, RootIno, 0},
		{Root, f, unix.ENOTDIR},
		{Root, 424242, unix.ESTALE},
	}
	for i, tc := range tests {
		if got := fs.OpenDir(tc.c, tc.ino); got != tc.want {
			t.Errorf("case %d: got %s, want %s", i, errStr(got), errStr(tc.want))
		}
	}
}

// mknodT creates a FIFO called name in dir as root.
func mknodT(tb testing.TB, fs *FS, dir Ino, name string) {
	tb.Helper()
	a, e := fs.Mknod(Root, dir, name, unix.S_IFIFO|0o644, 0)
	if e != 0 {
		tb.Fatalf("mknod %s: %v", name, e)
	}
	fs.Forget(a.Ino, 1)
}
