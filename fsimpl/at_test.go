package fsimpl

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// run is root coming through the supervised door.
var run = &Cred{Caps: AllCaps, Door: DoorRun}

func atRoot(c *Cred, path string) *At {
	return &At{Cred: c, Dir: RootIno, Path: path, Mount: "/m"}
}

// usedInodes is what statfs counts as used.
func usedInodes(fs *FS) uint64 {
	st := fs.StatFs()
	return st.Files - st.Ffree
}

// TestAtLeavesNoInodes: create/remove loops through the *At operations
// leave only the root, however the names were made (before, mkdir, mknod,
// symlink and link through the supervised door took a FUSE lookup
// reference that nobody gave back, and every removed inode leaked).
func TestAtLeavesNoInodes(t *testing.T) {
	for _, c := range []*Cred{run, Root} {
		fs := newTestFS(t, Options{Backing: BackingShm})
		for i := 0; i < 20; i++ {
			mustOK(t, "mkdir", e2(fs.MkdirAt(atRoot(c, "d"), 0o755)))
			mustOK(t, "rmdir", fs.UnlinkAt(atRoot(c, "d"), true))
			mustOK(t, "mknod", e2(fs.MknodAt(atRoot(c, "p"), unix.S_IFIFO|0o644, 0)))
			mustOK(t, "symlink", e2(fs.SymlinkAt("x", atRoot(c, "s"))))
			mustOK(t, "link", e2(fs.LinkAt(atRoot(c, "p"), atRoot(c, "q"))))
			mustOK(t, "rename", fs.RenameAt(atRoot(c, "q"), atRoot(c, "r"), 0))
			f, e := fs.OpenAt(atRoot(c, "f"), unix.O_CREAT|unix.O_WRONLY, 0o644, true)
			mustOK(t, "create", e)
			fs.Release(f)
			for _, n := range []string{"p", "r", "s", "f"} {
				mustOK(t, "unlink "+n, fs.UnlinkAt(atRoot(c, n), false))
			}
		}
		if got := usedInodes(fs); got != 1 {
			t.Errorf("door %d: %d inodes used after the loops, want 1 (the root)", c.Door, got)
		}
		fs.mu.RLock()
		n := len(fs.inodes)
		fs.mu.RUnlock()
		if n != 1 {
			t.Errorf("door %d: %d inodes live, want 1", c.Door, n)
		}
	}
}

// TestAtReferencesOnlyForFUSE: entries handed to the FUSE door carry a
// lookup reference; the same operations through any other door take none.
func TestAtReferencesOnlyForFUSE(t *testing.T) {
	for _, tc := range []struct {
		c    *Cred
		refs uint64
	}{{run, 0}, {Root, 0}, {kernel, 1}} {
		fs := newTestFS(t, Options{Backing: BackingShm})
		a, e := fs.MkdirAt(atRoot(tc.c, "d"), 0o755)
		mustOK(t, "mkdir", e)
		fs.mu.RLock()
		refs := fs.inodes[a.Ino].refs.Load()
		fs.mu.RUnlock()
		if refs != tc.refs {
			t.Errorf("door %d: %d references after MkdirAt, want %d", tc.c.Door, refs, tc.refs)
		}
	}
}

// TestAtNoStaleUnderRenames: the walk and the operation are one step, so
// renames through another door never make an *At call fail with ESTALE
// (the supervisor's walk used to end, a rename freed the inode, and the
// operation after it found the number gone).
func TestAtNoStaleUnderRenames(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	mustOK(t, "mkdir", e2(fs.MkdirAt(atRoot(run, "d"), 0o777)))
	const files = 8
	for i := 0; i < files; i++ {
		f, e := fs.OpenAt(atRoot(run, fmt.Sprintf("d/f%d", i)), unix.O_CREAT|unix.O_WRONLY, 0o666, false)
		mustOK(t, "create", e)
		fs.Release(f)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				// Rename over: the replaced inode is freed at once.
				src := fmt.Sprintf("f%d", (i+r)%files)
				dst := fmt.Sprintf("f%d", (i+r+1)%files)
				fs.Rename(kernel, mustWalk(t, fs, "d"), src, mustWalk(t, fs, "d"), dst, 0)
				_, f, e := fs.Create(kernel, mustWalk(t, fs, "d"), src, unix.O_CREAT|unix.O_WRONLY, 0o666)
				if e == 0 {
					fs.Release(f)
					fs.Forget(f.Ino, 1)
				}
			}
		}(r)
	}
	var stale atomic.Int64
	var calls int
	for i := 0; i < 3000; i++ {
		name := fmt.Sprintf("d/f%d", i%files)
		var errs []unix.Errno
		if f, e := fs.OpenAt(atRoot(run, name), unix.O_RDWR, 0, true); e == 0 {
			fs.Release(f)
		} else {
			errs = append(errs, e)
		}
		errs = append(errs, fs.SetAttrAt(atRoot(run, name), &SetAttrIn{Valid: SetMode, Mode: 0o666}))
		errs = append(errs, fs.SetAttrAt(atRoot(run, name), &SetAttrIn{Valid: SetSize}))
		_, e := fs.LinkAt(atRoot(run, name), atRoot(run, "d/h"))
		errs = append(errs, e)
		fs.UnlinkAt(atRoot(run, "d/h"), false)
		_, e = fs.StatAt(atRoot(run, name))
		errs = append(errs, e)
		for _, e := range errs {
			calls++
			if e == unix.ESTALE {
				stale.Add(1)
			} else if e != 0 && e != unix.ENOENT {
				t.Errorf("%s: unexpected %v", name, e)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := stale.Load(); n != 0 {
		t.Errorf("%d of %d calls ESTALE", n, calls)
	}
}

// TestWalk pins the path rules of the walk: dots, "..", symlinks inside and
// outside the filesystem, trailing slashes and the link limit.
func TestWalk(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	mustOK(t, "mkdir", e2(fs.MkdirAt(atRoot(run, "d"), 0o755)))
	mustOK(t, "mkdir", e2(fs.MkdirAt(atRoot(run, "d/e"), 0o755)))
	f, e := fs.OpenAt(atRoot(run, "d/f"), unix.O_CREAT|unix.O_WRONLY, 0o644, false)
	mustOK(t, "create", e)
	fs.Release(f)
	for _, l := range [][2]string{
		{"rel", "d/f"}, {"up", "../f"}, {"abs", "/m/d/f"}, {"absout", "/etc/passwd"},
		{"absroot", "/m"}, {"loop1", "loop2"}, {"loop2", "loop1"}, {"dirlink", "d/"},
	} {
		path := l[0]
		if l[0] == "up" {
			path = "d/e/up"
		}
		mustOK(t, "symlink "+l[0], e2(fs.SymlinkAt(l[1], atRoot(run, path))))
	}
	dIno := mustWalk(t, fs, "d")
	fIno := mustWalk(t, fs, "d/f")
	tests := []struct {
		path   string
		follow bool
		ino    Ino
		err    unix.Errno
	}{
		{"", false, RootIno, 0},
		{"/", false, RootIno, 0},
		{"d/./e/..", false, dIno, 0},
		{"d//f", false, fIno, 0},
		{"..", false, 0, StepAside},
		{"d/../..", false, 0, StepAside},
		{"d/f/", false, 0, unix.ENOTDIR},
		{"d/f/x", false, 0, unix.ENOTDIR},
		{"nope/x", false, 0, unix.ENOENT},
		{"rel", true, fIno, 0},
		{"d/e/up", true, fIno, 0},
		{"abs", true, fIno, 0},
		{"absout", true, 0, StepAside},
		{"absout", false, mustWalk(t, fs, "absout"), 0},
		{"absroot", true, RootIno, 0},
		{"absroot/d", false, dIno, 0},
		{"loop1", true, 0, unix.ELOOP},
		{"dirlink/", false, dIno, 0},
		{"rel/", false, 0, unix.ENOTDIR},
	}
	for _, tc := range tests {
		at := atRoot(run, tc.path)
		if tc.follow {
			at.Flags = AtFollow
		}
		a, e := fs.StatAt(at)
		if e != tc.err || e == 0 && a.Ino != tc.ino {
			t.Errorf("StatAt(%q, follow %v) = ino %d, %s; want ino %d, %s", tc.path, tc.follow, a.Ino, errStr(e), tc.ino, errStr(tc.err))
		}
	}
	// Without Mount, any absolute target leaves the filesystem.
	if _, e := fs.StatAt(&At{Cred: run, Dir: RootIno, Path: "abs", Flags: AtFollow}); e != StepAside {
		t.Errorf("absolute target with no Mount: %s, want StepAside", errStr(e))
	}
	// A walk starting below the root goes up with "..".
	if a, e := fs.StatAt(&At{Cred: run, Dir: dIno, Path: "e/../f"}); e != 0 || a.Ino != fIno {
		t.Errorf("relative to d: ino %d, %s", a.Ino, errStr(e))
	}
}

// TestAtFeed: changes through a door reach the watchers of other doors,
// with what changed; a door's own changes do not reach its own watcher.
func TestAtFeed(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	var got []string
	cancel := fs.Watch(func(from Door, ch []Change) {
		for _, c := range ch {
			got = append(got, fmt.Sprintf("%d:%d:%d/%s:%d", from, c.Kind, c.Dir, c.Name, c.Ino))
		}
	}, DoorFUSE)
	a, e := fs.MkdirAt(atRoot(run, "d"), 0o755)
	mustOK(t, "mkdir", e)
	mustOK(t, "chmod", fs.SetAttrAt(atRoot(run, "d"), &SetAttrIn{Valid: SetMode, Mode: 0o700}))
	mustOK(t, "rmdir", fs.UnlinkAt(atRoot(run, "d"), true))
	mustOK(t, "fuse mkdir", e2(fs.Mkdir(kernel, RootIno, "k", 0o755)))
	mustOK(t, "fuse chmod", e2(fs.SetAttr(kernel, mustWalk(t, fs, "k"), &SetAttrIn{Valid: SetMode, Mode: 0o700}, nil)))
	cancel()
	mustOK(t, "mkdir after cancel", e2(fs.MkdirAt(atRoot(run, "e"), 0o755)))
	d := a.Ino
	want := []string{
		fmt.Sprintf("%d:%d:1/d:%d", DoorRun, ChangeNew, d),
		fmt.Sprintf("%d:%d:1/d:%d", DoorRun, ChangePerms, d),
		fmt.Sprintf("%d:%d:1/d:%d", DoorRun, ChangeGone, d),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("feed:\n got %v\nwant %v", got, want)
	}
}

func e2[T any](_ T, e unix.Errno) unix.Errno { return e }

func mustOK(tb testing.TB, what string, e unix.Errno) {
	tb.Helper()
	if e != 0 {
		tb.Fatalf("%s: %s", what, errStr(e))
	}
}
