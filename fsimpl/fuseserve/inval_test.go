package fuseserve_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// TestInvalidation changes the tree through fsimpl directly, as the
// supervised door does, and checks that the mount shows the change right
// after the matching invalidation. The timeouts are an hour, so that what
// the kernel shows before the invalidation is its cache for certain.
func TestInvalidation(t *testing.T) {
	m := mustMount(t, fuseserve.Options{EntryTimeout: time.Hour, AttrTimeout: time.Hour})
	root := fsimpl.RootIno
	exists := func(name string) bool {
		t.Helper()
		var st unix.Stat_t
		err := unix.Lstat(m.path(name), &st)
		if err != nil && err != unix.ENOENT {
			t.Fatalf("lstat %s: %v", name, err)
		}
		return err == nil
	}
	create := func(parent fsimpl.Ino, name string) fsimpl.Ino {
		t.Helper()
		a, f, e := m.fs.Create(unheard, parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, 0o644)
		if e != 0 {
			t.Fatalf("fsimpl.Create %s: %v", name, e)
		}
		m.fs.Release(f)
		m.fs.Forget(a.Ino, 1)
		return a.Ino
	}
	sync := m.srv.FlushInvalidations

	// A created name hidden by a cached negative entry shows once either
	// invalidation for it is sent.
	for _, c := range []struct {
		op, name string
		inval    func(fsimpl.Ino, string)
	}{
		{"InvalEntry", "new", m.srv.InvalEntry},
		{"InvalNewEntry", "new2", m.srv.InvalNewEntry},
	} {
		t.Run(c.op+"/negative", func(t *testing.T) {
			if exists(c.name) {
				t.Fatalf("%s exists before creation", c.name)
			}
			create(root, c.name)
			if exists(c.name) {
				t.Fatal("the negative entry was not cached; this case tests nothing")
			}
			c.inval(root, c.name)
			sync()
			if !exists(c.name) {
				t.Fatalf("created name not visible after %s", c.op)
			}
		})
	}

	t.Run("InvalEntry/rename", func(t *testing.T) {
		create(root, "r1")
		ino := m.ino(t, "r1")
		if e := m.fs.Rename(unheard, root, "r1", root, "r2", 0); e != 0 {
			t.Fatal(e)
		}
		if !exists("r1") {
			t.Fatal("the positive entry was not cached")
		}
		m.srv.InvalEntry(root, "r1")
		m.srv.InvalEntry(root, "r2")
		sync()
		if exists("r1") || m.ino(t, "r2") != ino {
			t.Fatal("rename not visible after InvalEntry")
		}
	})

	t.Run("InvalEntry/subdir", func(t *testing.T) {
		if err := unix.Mkdir(m.path("sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		sub := m.ino(t, "sub")
		exists("sub/f")
		create(sub, "f")
		m.srv.InvalEntry(sub, "f")
		sync()
		if !exists("sub/f") {
			t.Fatal("sub/f not visible")
		}
	})

	t.Run("NotifyDelete", func(t *testing.T) {
		mustWriteFile(t, m.path("gone"), []byte("x"))
		ino := m.ino(t, "gone")
		if e := m.fs.Unlink(unheard, root, "gone"); e != 0 {
			t.Fatal(e)
		}
		if !exists("gone") {
			t.Fatal("the positive entry was not cached")
		}
		m.srv.NotifyDelete(root, ino, "gone")
		sync()
		if exists("gone") {
			t.Fatal("unlinked name still visible after NotifyDelete")
		}
	})

	t.Run("NotifyDelete/cwd", func(t *testing.T) {
		// A directory in use (here: open) is still removed from the dcache.
		if err := unix.Mkdir(m.path("busy"), 0o755); err != nil {
			t.Fatal(err)
		}
		ino := m.ino(t, "busy")
		mustOpen(t, m.path("busy"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if e := m.fs.Rmdir(unheard, root, "busy"); e != 0 {
			t.Fatal(e)
		}
		m.srv.NotifyDelete(root, ino, "busy")
		sync()
		if exists("busy") {
			t.Fatal("removed directory still visible")
		}
	})

	t.Run("InvalInode", func(t *testing.T) {
		mustWriteFile(t, m.path("attr"), nil)
		ino := m.ino(t, "attr")
		if _, e := m.fs.SetAttr(unheard, ino, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: 0o600}, nil); e != 0 {
			t.Fatal(e)
		}
		if st := mustStat(t, m.path("attr")); st.Mode&0o777 != 0o644 {
			t.Fatalf("attributes were not cached (mode %o); this case tests nothing", st.Mode)
		}
		m.srv.InvalInode(ino)
		sync()
		if st := mustStat(t, m.path("attr")); st.Mode&0o777 != 0o600 {
			t.Fatalf("mode after InvalInode = %o, want 600", st.Mode)
		}
	})

	t.Run("InvalInode/root", func(t *testing.T) {
		mode := func() uint32 { return mustStat(t, m.path(".")).Mode & 0o7777 }
		was := mode() // cached now
		if _, e := m.fs.SetAttr(unheard, root, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: 0o1777}, nil); e != 0 {
			t.Fatal(e)
		}
		defer m.fs.SetAttr(unheard, root, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: was}, nil)
		if got := mode(); got != was {
			t.Fatalf("root mode %o was not cached; this case tests nothing", got)
		}
		m.srv.InvalInode(root)
		sync()
		if got := mode(); got != 0o1777 {
			t.Fatalf("root mode after InvalInode = %o, want 1777", got)
		}
	})

	// What the kernel cannot have cached is not invalidated, and is still
	// seen fresh (knows.go).
	t.Run("skipped", func(t *testing.T) {
		skipped := func() uint64 { return m.srv.Stats().InvalSkipped }
		before := skipped()
		ino := create(root, "unseen") // never looked up through FUSE
		m.srv.InvalNewEntry(root, "unseen")
		m.srv.InvalInode(ino)
		m.srv.InvalContent(ino)
		m.srv.NotifyDelete(root, ino, "unseen")
		sync()
		if got := skipped() - before; got != 4 {
			t.Errorf("%d of 4 invalidations for an inode the kernel never saw were skipped", got)
		}
		if !exists("unseen") {
			t.Fatal("a name created unseen is not visible")
		}

		// Attributes handed out once are invalidated once; a second
		// change before the kernel asks again needs nothing.
		seen := m.ino(t, "unseen")
		setMode := func(mode uint32) {
			t.Helper()
			if _, e := m.fs.SetAttr(unheard, seen, &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: mode}, nil); e != 0 {
				t.Fatal(e)
			}
		}
		setMode(0o600)
		before = skipped()
		m.srv.InvalInode(seen)
		setMode(0o640)
		m.srv.InvalInode(seen)
		sync()
		if got := skipped() - before; got != 1 {
			t.Errorf("skipped %d of the two invalidations, want the second only", got)
		}
		if st := mustStat(t, m.path("unseen")); st.Mode&0o777 != 0o640 {
			t.Fatalf("mode = %o, want 640", st.Mode)
		}
	})

	t.Run("never cached", func(t *testing.T) {
		m.srv.InvalEntry(root, "never-looked-up")
		m.srv.InvalInode(9999)
		m.srv.InvalContent(9999)
		m.srv.NotifyDelete(root, 9999, "never-looked-up")
		sync()
	})

	if st := m.srv.Stats(); st.InvalErrors != 0 || st.InvalOverflows != 0 {
		t.Fatalf("invalidation errors %d, overflows %d", st.InvalErrors, st.InvalOverflows)
	}
}

// unheard makes changes behind the mount that fsimpl's change feed does not
// report to this door (they are labelled as its own), so that each case
// above tests one explicit invalidation.
var unheard = &fsimpl.Cred{Caps: fsimpl.AllCaps, Door: fsimpl.DoorFUSE}

// TestChangeFeed: a change made through another door (fsimpl's *At
// operations, as the supervised door makes them) is seen through the
// mount at once, with hour-long cache timeouts and no invalidation asked
// for by the caller.
func TestChangeFeed(t *testing.T) {
	m := mustMount(t, fuseserve.Options{EntryTimeout: time.Hour, AttrTimeout: time.Hour})
	run := &fsimpl.Cred{Caps: fsimpl.AllCaps, Door: fsimpl.DoorRun}
	at := func(path string) *fsimpl.At { return &fsimpl.At{Cred: run, Dir: fsimpl.RootIno, Path: path} }
	lstat := func(name string) (unix.Stat_t, error) {
		var st unix.Stat_t
		err := unix.Lstat(m.path(name), &st)
		return st, err
	}
	if _, err := lstat("d"); err != unix.ENOENT { // a negative entry now
		t.Fatalf("d before mkdir: %v", err)
	}
	if _, e := m.fs.MkdirAt(at("d"), 0o755); e != 0 {
		t.Fatal(e)
	}
	if _, err := lstat("d"); err != nil {
		t.Fatalf("d after MkdirAt: %v", err)
	}
	if e := m.fs.SetAttrAt(at("d"), &fsimpl.SetAttrIn{Valid: fsimpl.SetMode, Mode: 0o700}); e != 0 {
		t.Fatal(e)
	}
	if st, _ := lstat("d"); st.Mode&0o777 != 0o700 {
		t.Errorf("mode after SetAttrAt: %o", st.Mode&0o777)
	}
	if e := m.fs.RenameAt(at("d"), at("e"), 0); e != 0 {
		t.Fatal(e)
	}
	if _, err := lstat("d"); err != unix.ENOENT {
		t.Errorf("d after RenameAt: %v", err)
	}
	if _, err := lstat("e"); err != nil {
		t.Errorf("e after RenameAt: %v", err)
	}
	if e := m.fs.UnlinkAt(at("e"), true); e != 0 {
		t.Fatal(e)
	}
	if _, err := lstat("e"); err != unix.ENOENT {
		t.Errorf("e after UnlinkAt: %v", err)
	}
}
