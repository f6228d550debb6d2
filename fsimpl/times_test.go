package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

// ageInode sets the stored times of ino far in the past, so that a test
// can see which ones an operation renews without comparing clocks.
func ageInode(tb testing.TB, fs *FS, ino Ino) {
	tb.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		tb.Fatal(e)
	}
	old := unix.Timespec{Sec: 1}
	n.atime, n.mtime, n.ctime = old, old, old
}

func TestTimes(t *testing.T) {
	old := unix.Timespec{Sec: 1}
	type changed struct{ mtime, ctime bool }
	tests := []struct {
		name string
		// op runs on a tree with directories /d and /e, FIFO /d/p,
		// subdirectory /d/s; watch names the inodes whose times are
		// checked afterwards, with what must have changed.
		op    func(fs *FS) unix.Errno
		watch map[string]changed
	}{
		{"mknod", func(fs *FS) unix.Errno {
			_, e := fs.Mknod(Root, mustWalk(t, fs, "d"), "n", unix.S_IFIFO|0o644, 0)
			return e
		}, map[string]changed{"d": {true, true}, "e": {}, "d/p": {}}},
		{"unlink", func(fs *FS) unix.Errno { return fs.Unlink(Root, mustWalk(t, fs, "d"), "p") },
			map[string]changed{"d": {true, true}, "e": {}}},
		{"link", func(fs *FS) unix.Errno {
			_, e := fs.Link(Root, mustWalk(t, fs, "d/p"), mustWalk(t, fs, "e"), "p2")
			return e
		}, map[string]changed{"d": {}, "e": {true, true}, "d/p": {false, true}}},
		{"rename across", func(fs *FS) unix.Errno {
			return fs.Rename(Root, mustWalk(t, fs, "d"), "p", mustWalk(t, fs, "e"), "p", 0)
		}, map[string]changed{"d": {true, true}, "e": {true, true}, "e/p": {false, true}}},
		{"rename dir", func(fs *FS) unix.Errno {
			return fs.Rename(Root, mustWalk(t, fs, "d"), "s", mustWalk(t, fs, "e"), "s", 0)
		}, map[string]changed{"d": {true, true}, "e": {true, true}, "e/s": {false, true}}},
		{"rmdir", func(fs *FS) unix.Errno { return fs.Rmdir(Root, mustWalk(t, fs, "d"), "s") },
			map[string]changed{"d": {true, true}}},
		{"chmod", func(fs *FS) unix.Errno {
			_, e := fs.SetAttr(Root, mustWalk(t, fs, "d/p"), &SetAttrIn{Valid: SetMode, Mode: 0o600}, nil)
			return e
		}, map[string]changed{"d/p": {false, true}, "d": {}}},
		{"chown", func(fs *FS) unix.Errno {
			_, e := fs.SetAttr(Root, mustWalk(t, fs, "d/p"), &SetAttrIn{Valid: SetUID, UID: 5}, nil)
			return e
		}, map[string]changed{"d/p": {false, true}}},
		{"utimens now", func(fs *FS) unix.Errno {
			_, e := fs.SetAttr(Root, mustWalk(t, fs, "d/p"), &SetAttrIn{Valid: SetAtimeNow | SetMtimeNow}, nil)
			return e
		}, map[string]changed{"d/p": {true, true}}},
		{"setxattr", func(fs *FS) unix.Errno { return fs.SetXattr(Root, mustWalk(t, fs, "d"), "user.x", nil, 0) },
			map[string]changed{"d": {false, true}}},
		{"lookup and readdir change nothing", func(fs *FS) unix.Errno {
			names(t, fs, mustWalk(t, fs, "d"))
			_, e := walk(t, fs, Root, "d/p")
			return e
		}, map[string]changed{"d": {}, "d/p": {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			mustMkdir(t, fs, Root, "d", 0o755)
			mustMkdir(t, fs, Root, "e", 0o755)
			mustMkdir(t, fs, Root, "d/s", 0o755)
			if a, e := fs.Mknod(Root, mustWalk(t, fs, "d"), "p", unix.S_IFIFO|0o644, 0); e != 0 {
				t.Fatal(e)
			} else {
				fs.Forget(a.Ino, 1)
			}
			for _, p := range []string{"d", "e", "d/s", "d/p"} {
				ageInode(t, fs, mustWalk(t, fs, p))
			}
			if e := tc.op(fs); e != 0 {
				t.Fatal(e)
			}
			for p, want := range tc.watch {
				a := mustAttr(t, fs, mustWalk(t, fs, p))
				if got := a.Mtime != old; got != want.mtime {
					t.Errorf("%s: mtime changed %v, want %v", p, got, want.mtime)
				}
				if got := a.Ctime != old; got != want.ctime {
					t.Errorf("%s: ctime changed %v, want %v", p, got, want.ctime)
				}
			}
		})
	}
}

func TestRegularFileTimesFromBacking(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	ino := mustFile(t, fs, Root, "f", 0o644, "")
	ts := unix.Timespec{Sec: 1000, Nsec: 5}
	a, e := fs.SetAttr(Root, ino, &SetAttrIn{Valid: SetAtime | SetMtime, Atime: ts, Mtime: ts}, nil)
	if e != 0 || a.Atime != ts || a.Mtime != ts {
		t.Fatalf("utimens: %+v %v", a, e)
	}
	var st unix.Stat_t
	if e := fs.back.stat(ino, &st); e != 0 || st.Mtim != ts || st.Atim != ts {
		t.Errorf("backing file times %v %v", st.Atim, st.Mtim)
	}
	// A write through the descriptor shows at once.
	f, e := fs.Open(Root, ino, unix.O_WRONLY)
	if e != 0 {
		t.Fatal(e)
	}
	defer fs.Release(f)
	if _, err := unix.Pwrite(f.Fd, []byte("native"), 100); err != nil {
		t.Fatal(err)
	}
	a = mustAttr(t, fs, ino)
	if a.Size != 106 || a.Mtime == ts || tsAfter(a.Mtime, a.Ctime) {
		t.Errorf("after native write: %+v", a)
	}
}
