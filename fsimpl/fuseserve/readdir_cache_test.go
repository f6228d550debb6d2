package fuseserve_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// The kernel keeps directory listings in the directory's pages (dir.go:
// no OPENDIR, so FOPEN_CACHE_DIR). These tests change a listed directory
// through fsimpl's *At operations, as the lanes of 'btfuse run' do, and
// through the mount itself, and list it again through the mount. The
// cache timeouts are an hour, so that only invalidations can make the
// kernel ask again.

// listNames reads fd from where it is to the end, sorted, without "."
// and "..".
func listNames(tb testing.TB, fd int) []string {
	tb.Helper()
	var names []string
	for {
		ds := getdents(tb, fd, 4096)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if d.name != "." && d.name != ".." {
				names = append(names, d.name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// listPath lists a directory through a new descriptor.
func listPath(tb testing.TB, path string) []string {
	tb.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer unix.Close(fd)
	return listNames(tb, fd)
}

// fsNames is what fsimpl holds in dir: the truth the mount must show.
func fsNames(tb testing.TB, fs *fsimpl.FS, dir fsimpl.Ino) []string {
	tb.Helper()
	var names []string
	if e := fs.ReadDir(dir, 0, func(d fsimpl.Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			names = append(names, d.Name)
		}
		return true
	}); e != 0 {
		tb.Fatalf("fsimpl.ReadDir: %v", e)
	}
	slices.Sort(names)
	return names
}

// listings counts the READDIR and READDIRPLUS requests so far.
func listings(s *fuseserve.Server) uint64 {
	st := s.Stats()
	return st.Ops["READDIR"].Calls + st.Ops["READDIRPLUS"].Calls
}

func TestReaddirCache(t *testing.T) {
	m := mustMount(t, fuseserve.Options{EntryTimeout: time.Hour, AttrTimeout: time.Hour})
	run := &fsimpl.Cred{Caps: fsimpl.AllCaps, Door: fsimpl.DoorRun}
	at := func(path string) *fsimpl.At { return &fsimpl.At{Cred: run, Dir: fsimpl.RootIno, Path: path} }
	for _, p := range []string{"d", "o"} {
		if err := unix.Mkdir(m.path(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"d/a", "d/b", "o/in"} {
		mustWriteFile(t, m.path(p), nil)
	}
	if err := unix.Mkdir(m.path("d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := m.ino(t, "d")
	held := mustOpen(t, m.path("d"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	listNames(t, held)

	// Pinned: a second listing comes from the kernel's pages, with no
	// OPENDIR and no READDIR (fs/fuse/readdir.c fuse_readdir_cached).
	before := listings(m.srv)
	listPath(t, m.path("d"))
	if got := listings(m.srv) - before; got != 0 {
		t.Fatalf("a second listing sent %d READDIR requests; the kernel did not cache the first", got)
	}
	if _, ok := m.srv.Stats().Ops["OPENDIR"]; ok {
		t.Errorf("OPENDIR counted; it is declined uncounted")
	}

	create := func(p string) unix.Errno {
		f, e := m.fs.OpenAt(at(p), unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, 0o644, false)
		if e == 0 {
			m.fs.Release(f)
		}
		return e
	}
	for _, c := range []struct {
		what   string
		change func() unix.Errno
	}{
		{"create", func() unix.Errno { return create("d/c") }},
		{"unlink", func() unix.Errno { return m.fs.UnlinkAt(at("d/a"), false) }},
		{"rename in", func() unix.Errno { return m.fs.RenameAt(at("o/in"), at("d/in"), 0) }},
		{"rename out", func() unix.Errno { return m.fs.RenameAt(at("d/b"), at("o/b"), 0) }},
		{"rename within", func() unix.Errno { return m.fs.RenameAt(at("d/c"), at("d/c2"), 0) }},
		{"mkdir", func() unix.Errno { _, e := m.fs.MkdirAt(at("d/new"), 0o755); return e }},
		{"rmdir", func() unix.Errno { return m.fs.UnlinkAt(at("d/sub"), true) }},
		{"rename over", func() unix.Errno { return m.fs.RenameAt(at("o/b"), at("d/in"), 0) }},
	} {
		// Cached before the change: the listing just read, by a new
		// descriptor, with no READDIR.
		listPath(t, m.path("d"))
		before := listings(m.srv)
		listPath(t, m.path("d"))
		if listings(m.srv) != before {
			t.Fatalf("%s: the listing was not cached before the change; this case tests nothing", c.what)
		}
		if e := c.change(); e != 0 {
			t.Fatalf("%s: %v", c.what, e)
		}
		want := fsNames(t, m.fs, d)
		if got := listPath(t, m.path("d")); !slices.Equal(got, want) {
			t.Errorf("%s: a new stream lists %v, want %v", c.what, got, want)
		}
		if _, err := unix.Seek(held, 0, unix.SEEK_SET); err != nil {
			t.Fatal(err)
		}
		if got := listNames(t, held); !slices.Equal(got, want) {
			t.Errorf("%s: the stream opened before, rewound, lists %v, want %v", c.what, got, want)
		}
	}

	// A stream past offset 0 when names it has not reached yet are
	// removed must not return them, whether the removal comes through
	// the other door or through the mount (fs/libfs.c on a tmpfs never
	// does; the kernel compares i_version only at offset 0).
	for _, door := range []string{"run", "fuse"} {
		t.Run("midstream/"+door, func(t *testing.T) {
			dir := "m-" + door
			if err := unix.Mkdir(m.path(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				mustWriteFile(t, m.path(fmt.Sprintf("%s/f%03d", dir, i)), nil)
			}
			listPath(t, m.path(dir)) // cached
			fd := mustOpen(t, m.path(dir), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			seen := map[string]bool{}
			for _, e := range getdents(t, fd, 256) {
				seen[e.name] = true
			}
			var gone []string
			for _, name := range listPath(t, m.path(dir)) {
				if !seen[name] {
					gone = append(gone, name)
				}
			}
			for _, name := range gone {
				p := dir + "/" + name
				if door == "run" {
					if e := m.fs.UnlinkAt(at(p), false); e != 0 {
						t.Fatal(e)
					}
				} else if err := unix.Unlink(m.path(p)); err != nil {
					t.Fatal(err)
				}
			}
			rest := listNames(t, fd)
			for _, name := range rest {
				if slices.Contains(gone, name) {
					t.Errorf("%s was removed before the stream reached it, and returned", name)
				}
			}
		})
	}

	// A chmod moves the ctime, and the next listing must then move the
	// atime under relatime (fsimpl.ReadDir), through whichever door
	// the chmod came.
	for _, door := range []string{"run", "fuse"} {
		t.Run("atime after chmod/"+door, func(t *testing.T) {
			dir := "t-" + door
			if err := unix.Mkdir(m.path(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			mustWriteFile(t, m.path(dir+"/f"), nil)
			ino := m.ino(t, dir)
			// Held open, so that the kernel keeps the inode, and its
			// pages, when the chmod drops its entry (InvalPerms).
			mustOpen(t, m.path(dir), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			listPath(t, m.path(dir))
			before := listings(m.srv)
			listPath(t, m.path(dir))
			if listings(m.srv) != before {
				t.Fatal("the listing was not cached before the chmod; this case tests nothing")
			}
			if door == "run" {
				if e := m.fs.SetAttrAt(at(dir), &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: 0o750}); e != 0 {
					t.Fatal(e)
				}
			} else if err := unix.Chmod(m.path(dir), 0o750); err != nil {
				t.Fatal(err)
			}
			was, e := m.fs.GetAttr(ino)
			if e != 0 {
				t.Fatal(e)
			}
			listPath(t, m.path(dir))
			now, _ := m.fs.GetAttr(ino)
			if now.Atime == was.Atime {
				t.Errorf("atime %v did not move when the directory was listed after its ctime moved", now.Atime)
			}
		})
	}

	// fsync of a directory: FSYNCDIR is declined, and the kernel then
	// answers 0 itself (fs/fuse/dir.c fuse_dir_fsync, fc->no_fsyncdir),
	// as a tmpfs does (noop_fsync).
	for range 2 {
		if err := unix.Fsync(held); err != nil {
			t.Errorf("fsync of a directory: %v", err)
		}
	}
	if _, ok := m.srv.Stats().Ops["FSYNCDIR"]; ok {
		t.Errorf("FSYNCDIR counted; it is declined uncounted")
	}
}

// TestReaddirCacheExpires: a listing cached in the kernel's pages is
// dropped when the entries read with it expire (listing.go), so that a
// list-and-stat (ls -l) after the timeouts reads the directory again with
// READDIRPLUS, one request per page of names, instead of looking up every
// name from a cached listing.
func TestReaddirCacheExpires(t *testing.T) {
	const ttl = time.Second // long enough for 200 stats on a loaded machine
	m := mustMount(t, fuseserve.Options{EntryTimeout: ttl, AttrTimeout: ttl})
	const n = 200
	if err := unix.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		mustWriteFile(t, m.path(fmt.Sprintf("d/f%03d", i)), nil)
	}
	lsl := func() {
		t.Helper()
		// In one getdents64 of 64 KiB, as ls reads (glibc's 32 KiB
		// buffer and more): the kernel then asks READDIRPLUS for all
		// of it.
		fd, err := unix.Open(m.path("d"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		var names []string
		for {
			ds := getdents(t, fd, 64<<10)
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				if d.name != "." && d.name != ".." {
					names = append(names, d.name)
				}
			}
		}
		for _, name := range names {
			mustStat(t, m.path("d/"+name))
		}
	}
	lookups := func() uint64 {
		st := m.srv.Stats()
		return st.Ops["LOOKUP"].Calls + st.Ops["GETATTR"].Calls
	}
	lsl()
	time.Sleep(ttl + ttl/2)
	before, lists := lookups(), listings(m.srv)
	lsl()
	if got := listings(m.srv) - lists; got == 0 {
		t.Errorf("the expired listing was served from the pages")
	}
	if got := lookups() - before; got > n/10 {
		t.Errorf("ls -l after the timeouts sent %d LOOKUP or GETATTR for %d names; READDIRPLUS was to bring them", got, n)
	}
}
