package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

// testPinner pins the inodes in pins and records whether the view's
// sequence was odd at each question (the writer's half of the ordering
// against the library's pin: fsimpl/pins.go).
type testPinner struct {
	fs      *FS
	pins    map[Ino]bool
	asked   int
	evenSeq int
}

func (p *testPinner) Pinned(ino Ino) bool {
	p.asked++
	if p.fs.view.seq().Load()%2 == 0 {
		p.evenSeq++
	}
	return p.pins[ino]
}

// TestPinKeepsUnlinkedInode: a regular file that a Pinner holds stays
// after its last link goes (link count 0, its backing file, its view
// slot) until Unpinned or RecheckPins, and is freed at once without a pin;
// the Pinner is asked with the view's sequence odd.
func TestPinKeepsUnlinkedInode(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	fd, err := fs.View()
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	p := &testPinner{fs: fs, pins: map[Ino]bool{}}
	fs.SetPinner(p)
	f := mustFile(t, fs, nil, "f", 0o640, "data")
	g := mustFile(t, fs, nil, "g", 0o644, "gg")
	h := mustFile(t, fs, nil, "h", 0o644, "hh")
	p.pins[f], p.pins[h] = true, true

	for _, n := range []string{"f", "g"} {
		if e := fs.Unlink(nil, RootIno, n); e != 0 {
			t.Fatalf("unlink %s: %v", n, e)
		}
	}
	a, e := fs.GetAttr(f)
	if e != 0 || a.Nlink != 0 || a.Mode != unix.S_IFREG|0o640 || !backingExists(fs, f) {
		t.Errorf("pinned and unlinked: %+v, %v, backing %v; want link count 0, mode 0640, the backing file", a, e, backingExists(fs, f))
	}
	if _, e := fs.GetAttr(g); e == 0 || backingExists(fs, g) {
		t.Errorf("unpinned and unlinked: still there (%v, backing %v)", e, backingExists(fs, g))
	}
	if p.asked < 2 || p.evenSeq != 0 {
		t.Errorf("asked %d times, %d with the view's sequence even", p.asked, p.evenSeq)
	}
	if err := fs.CheckView(); err != nil {
		t.Error(err)
	}

	// Still pinned: Unpinned looks again and keeps it.
	fs.Unpinned(f)
	if _, e := fs.GetAttr(f); e != 0 {
		t.Errorf("freed while still pinned: %v", e)
	}
	delete(p.pins, f)
	fs.Unpinned(f)
	if _, e := fs.GetAttr(f); e == 0 || backingExists(fs, f) {
		t.Errorf("unpinned: still there (%v, backing %v)", e, backingExists(fs, f))
	}

	// A pin on a linked file changes nothing until its last link goes;
	// RecheckPins frees what no pin holds any more.
	if e := fs.Unlink(nil, RootIno, "h"); e != 0 {
		t.Fatal(e)
	}
	if _, e := fs.GetAttr(h); e != 0 {
		t.Fatalf("pinned h freed: %v", e)
	}
	p.pins = map[Ino]bool{}
	fs.RecheckPins()
	if _, e := fs.GetAttr(h); e == 0 || backingExists(fs, h) {
		t.Errorf("after RecheckPins: h still there (%v)", e)
	}
	if err := fs.CheckView(); err != nil {
		t.Error(err)
	}
}
