package fsimpl

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// renameTree builds:
//
//	/a/        with a/x (file) and a/sub/ (empty dir)
//	/b/        empty
//	/c/        holding c/y (file): not empty
//	/f, /g     files
//	/h         hard link of /f
//	/pub/      01777 with pub/af (alice's file), pub/ad/ (alice's dir)
//	/home/     alice's 0755 dir with home/m (file) and home/n/ (dir)
func renameTree(tb testing.TB) *FS {
	tb.Helper()
	fs := newTestFS(tb, Options{Backing: BackingShm})
	mustMkdir(tb, fs, Root, "a", 0o755)
	mustFile(tb, fs, Root, "a/x", 0o644, "")
	mustMkdir(tb, fs, Root, "a/sub", 0o755)
	mustMkdir(tb, fs, Root, "b", 0o755)
	mustMkdir(tb, fs, Root, "c", 0o755)
	mustFile(tb, fs, Root, "c/y", 0o644, "")
	f := mustFile(tb, fs, Root, "f", 0o644, "f")
	mustFile(tb, fs, Root, "g", 0o644, "g")
	if _, e := fs.Link(Root, f, RootIno, "h"); e != 0 {
		tb.Fatal(e)
	}
	fs.Forget(f, 1)
	mustMkdir(tb, fs, Root, "pub", 0o777)
	mustChmod(tb, fs, "pub", 0o1777)
	mustFile(tb, fs, alice, "pub/af", 0o644, "")
	mustMkdir(tb, fs, alice, "pub/ad", 0o755)
	mustMkdir(tb, fs, Root, "home", 0o755)
	mustChown(tb, fs, "home", 1000, 1000)
	mustFile(tb, fs, alice, "home/m", 0o644, "")
	mustMkdir(tb, fs, alice, "home/n", 0o755)
	return fs
}

func TestRenameEdgeCases(t *testing.T) {
	tests := []struct {
		name          string
		c             *Cred
		from, to      string
		flags         uint32
		want          unix.Errno
		gone, present []string // paths checked afterwards (on success)
	}{
		{name: "file to new name", from: "f", to: "b/f", present: []string{"b/f"}, gone: []string{"f"}},
		{name: "file over file", from: "g", to: "f", present: []string{"f", "h"}, gone: []string{"g"}},
		{name: "dir to new parent", from: "a", to: "b/a", present: []string{"b/a/x", "b/a/sub"}, gone: []string{"a"}},
		{name: "dir over empty dir", from: "a", to: "b", present: []string{"b/x"}, gone: []string{"a"}},
		{name: "dir over non-empty dir", from: "a", to: "c", want: unix.ENOTEMPTY},
		{name: "dir over file", from: "a", to: "f", want: unix.ENOTDIR},
		{name: "file over dir", from: "f", to: "b", want: unix.EISDIR},
		{name: "dir into itself", from: "a", to: "a/q", want: unix.EINVAL},
		{name: "dir into own subtree", from: "a", to: "a/sub/q", want: unix.EINVAL},
		{name: "dir over its own parent", from: "a/sub", to: "a", want: unix.ENOTEMPTY},
		{name: "dir over ancestor empty", from: "a/sub", to: "b", present: []string{"b"}, gone: []string{"a/sub"}},
		{name: "same name", from: "f", to: "f", present: []string{"f"}},
		{name: "hard links of one inode", from: "f", to: "h", present: []string{"f", "h"}},
		{name: "missing source", from: "nope", to: "b/x", want: unix.ENOENT},
		{name: "source dot", from: "a/.", to: "b/x", want: unix.EBUSY},
		{name: "target dotdot", from: "f", to: "a/..", want: unix.EBUSY},
		{name: "target in file", from: "g", to: "f/x", want: unix.ENOTDIR},
		{name: "noreplace free", from: "f", to: "b/f", flags: RenameNoReplace, present: []string{"b/f"}},
		{name: "noreplace exists", from: "f", to: "g", flags: RenameNoReplace, want: unix.EEXIST},
		{name: "noreplace same inode", from: "f", to: "h", flags: RenameNoReplace, want: unix.EEXIST},
		{name: "exchange files", from: "f", to: "g", flags: RenameExchange, present: []string{"f", "g"}},
		{name: "exchange dir and file", from: "a", to: "g", flags: RenameExchange, present: []string{"g/x", "a"}},
		{name: "exchange missing target", from: "f", to: "b/zz", flags: RenameExchange, want: unix.ENOENT},
		{name: "exchange dir with its parent", from: "a/sub", to: "a", flags: RenameExchange, want: unix.EINVAL},
		{name: "exchange dir with child", from: "a", to: "a/sub", flags: RenameExchange, want: unix.EINVAL},
		{name: "exchange non-empty dirs", from: "a", to: "c", flags: RenameExchange, present: []string{"a/y", "c/x"}},
		{name: "exchange and noreplace", from: "f", to: "g", flags: RenameExchange | RenameNoReplace, want: unix.EINVAL},
		{name: "exchange and whiteout", from: "f", to: "g", flags: RenameExchange | unix.RENAME_WHITEOUT, want: unix.EINVAL},
		{name: "unknown flag", from: "f", to: "g", flags: 1 << 8, want: unix.EINVAL},
		{name: "whiteout", from: "f", to: "b/f", flags: unix.RENAME_WHITEOUT, present: []string{"f", "b/f"}},
		{name: "no write on source dir", c: alice, from: "a/x", to: "home/x", want: unix.EACCES},
		{name: "no write on target dir", c: alice, from: "home/m", to: "b/m", want: unix.EACCES},
		{name: "within own dir", c: alice, from: "home/m", to: "home/m2", present: []string{"home/m2"}},
		{name: "sticky: owner may move out", c: alice, from: "pub/af", to: "home/af", present: []string{"home/af"}},
		{name: "sticky: other may not", c: bob, from: "pub/af", to: "pub/bf", want: unix.EPERM},
		{name: "sticky: other may not replace", c: bob, from: "pub/bz", to: "pub/af", want: unix.EPERM},
		{name: "sticky: root may", c: Root, from: "pub/af", to: "pub/bf", present: []string{"pub/bf"}},
		{name: "moving dir needs write on it", c: alice, from: "pub/ad", to: "home/ad", present: []string{"home/ad"}},
		{name: "moving others' dir needs write on it", c: bob, from: "pub/bd", to: "pub/bd2", present: []string{"pub/bd2"}},
		{name: "moving unwritable dir across parents", c: bob, from: "pub/bd", to: "pub/bsub/bd", want: unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := renameTree(t)
			// bob's fixtures for the sticky cases.
			mustFile(t, fs, bob, "pub/bz", 0o644, "")
			mustMkdir(t, fs, bob, "pub/bsub", 0o777)
			mustMkdir(t, fs, bob, "pub/bd", 0o755)
			mustChmod(t, fs, "pub/bd", 0o555)
			c := tc.c
			if c == nil {
				c = Root
			}
			fromDir, fromName := split(tc.from)
			toDir, toName := split(tc.to)
			od, e := walk(t, fs, Root, fromDir)
			if e != 0 {
				t.Fatal(e)
			}
			nd, e := walk(t, fs, Root, toDir)
			if e != 0 {
				t.Fatal(e)
			}
			if got := fs.Rename(c, od, fromName, nd, toName, tc.flags); got != tc.want {
				t.Fatalf("got %s, want %s", errStr(got), errStr(tc.want))
			}
			for _, p := range tc.present {
				if _, e := walk(t, fs, Root, p); e != 0 {
					t.Errorf("%s: %s", p, errStr(e))
				}
			}
			for _, p := range tc.gone {
				if _, e := walk(t, fs, Root, p); e != unix.ENOENT {
					t.Errorf("%s still there: %s", p, errStr(e))
				}
			}
			checkLinkCounts(t, fs)
		})
	}
}

// checkLinkCounts walks the whole tree and verifies each directory's nlink
// (2 + subdirectories), each ".." entry, and each non-directory's nlink
// (number of names).
func checkLinkCounts(tb testing.TB, fs *FS) {
	tb.Helper()
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	names := map[*inode]uint32{}
	var visit func(d *inode)
	visit = func(d *inode) {
		subdirs := uint32(0)
		for _, e := range d.dir.ents {
			if e.child == nil {
				continue
			}
			if e.child.isDir() {
				subdirs++
				if e.child.dir.parent != d {
					tb.Errorf("%q: parent is %d, want %d", e.name, e.child.dir.parent.ino, d.ino)
				}
				visit(e.child)
			} else {
				names[e.child]++
			}
		}
		if d.nlink != 2+subdirs {
			tb.Errorf("dir %d: nlink %d, want %d", d.ino, d.nlink, 2+subdirs)
		}
		if got := len(d.dir.index); got != d.dir.live {
			tb.Errorf("dir %d: index has %d names, live %d", d.ino, got, d.dir.live)
		}
	}
	visit(fs.inodes[RootIno])
	for n, c := range names {
		if n.nlink != c {
			tb.Errorf("inode %d: nlink %d, %d names", n.ino, n.nlink, c)
		}
	}
}

// TestRenameExchangeNewCookies: both names of an exchange become the
// newest entries, the moved one first, as on tmpfs (fs/dcache.c:__d_move()
// puts both dentries at the head of d_children).
func TestRenameExchangeNewCookies(t *testing.T) {
	fs := renameTree(t)
	before := dirents(t, fs, RootIno)
	if e := fs.Rename(Root, RootIno, "f", RootIno, "g", RenameExchange); e != 0 {
		t.Fatal(e)
	}
	after := dirents(t, fs, RootIno)
	if after["f"].Ino != before["g"].Ino || after["g"].Ino != before["f"].Ino {
		t.Errorf("not exchanged: before %v after %v", before, after)
	}
	var top uint64
	for name, d := range before {
		top = max(top, d.Off)
		if name != "f" && name != "g" && after[name].Off != d.Off {
			t.Errorf("%s: cookie %d -> %d", name, d.Off, after[name].Off)
		}
	}
	if after["f"].Off != top+1 || after["g"].Off != top+2 {
		t.Errorf("cookies f %d g %d, want %d %d", after["f"].Off, after["g"].Off, top+1, top+2)
	}
}

func TestRenameNewCookie(t *testing.T) {
	fs := renameTree(t)
	before := dirents(t, fs, RootIno)
	if e := fs.Rename(Root, RootIno, "g", RootIno, "f", 0); e != 0 {
		t.Fatal(e)
	}
	after := dirents(t, fs, RootIno)
	if after["f"].Off <= before["h"].Off || after["f"].Ino != before["g"].Ino {
		t.Errorf("renamed-over name: %+v, before %+v", after["f"], before)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range after {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{".", "..", "a", "b", "c", "f", "h", "home", "pub"}
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

func TestRenameWhiteout(t *testing.T) {
	fs := renameTree(t)
	if e := fs.Rename(alice, mustWalk(t, fs, "home"), "m", mustWalk(t, fs, "home"), "m2", unix.RENAME_WHITEOUT); e != 0 {
		t.Fatal(e)
	}
	a := mustAttr(t, fs, mustWalk(t, fs, "home/m"))
	if a.Mode != unix.S_IFCHR || a.Rdev != 0 || a.UID != alice.UID {
		t.Errorf("whiteout: %+v", a)
	}
}

func TestRenameDirLinkCounts(t *testing.T) {
	fs := renameTree(t)
	a, b := mustWalk(t, fs, "a"), mustWalk(t, fs, "b")
	if e := fs.Rename(Root, a, "sub", b, "sub", 0); e != 0 {
		t.Fatal(e)
	}
	if na, nb := mustAttr(t, fs, a).Nlink, mustAttr(t, fs, b).Nlink; na != 2 || nb != 3 {
		t.Errorf("nlink a=%d b=%d, want 2, 3", na, nb)
	}
	sub, _ := fs.Lookup(Root, b, "sub")
	defer fs.Forget(sub.Ino, 1)
	if p, _ := fs.Lookup(Root, sub.Ino, ".."); p.Ino != b {
		t.Errorf(".. of moved dir = %d, want %d", p.Ino, b)
	} else {
		fs.Forget(p.Ino, 1)
	}
}

// dirents maps name -> entry for directory ino.
func dirents(tb testing.TB, fs *FS, ino Ino) map[string]Dirent {
	tb.Helper()
	m := map[string]Dirent{}
	if e := fs.ReadDir(ino, 0, func(d Dirent) bool { m[d.Name] = d; return true }); e != 0 {
		tb.Fatal(e)
	}
	return m
}
