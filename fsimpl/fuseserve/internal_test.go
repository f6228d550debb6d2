package fuseserve

// Unit tests that need no mount. They live in package fuseserve and must not
// import internal/testutil (which imports this package).

import (
	"slices"
	"sync"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
)

// fakeNotifier records notifications; while gate is held, the first one
// blocks, as a notify does when the kernel holds the directory lock.
type fakeNotifier struct {
	gate    sync.Mutex
	mu      sync.Mutex
	entries []string
	inodes  []uint64
	deletes int
}

func (f *fakeNotifier) wait() { f.gate.Lock(); f.gate.Unlock() }

func (f *fakeNotifier) EntryNotify(parent uint64, name string) fuse.Status {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, name)
	return fuse.ENOENT
}

func (f *fakeNotifier) InodeNotify(node uint64, off, length int64) fuse.Status {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inodes = append(f.inodes, node)
	return fuse.OK
}

func (f *fakeNotifier) DeleteNotify(parent, child uint64, name string) fuse.Status {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	return fuse.OK
}

// TestInvalOverflow: push never blocks; a full queue turns into one
// invalidate-everything pass over what the kernel holds.
func TestInvalOverflow(t *testing.T) {
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	r := newRawFS(fs, Options{EntryTimeout: 1, AttrTimeout: 1})
	a, f, e := fs.Create(fsimpl.Root, fsimpl.RootIno, "file", unix.O_CREAT|unix.O_RDWR, 0o644)
	if e != 0 {
		t.Fatal(e)
	}
	fs.Release(f)
	r.lookups.add(a.Ino) // as if the kernel had looked it up
	t.Cleanup(func() { fs.Forget(a.Ino, 1) })

	fake := &fakeNotifier{}
	fake.gate.Lock()
	const n = 8
	q := newInvalQueue(r, fake, n)
	t.Cleanup(q.stop)
	for i := 0; i < 3*n; i++ { // the sender is stuck in the first one
		q.push(invalReq{kind: invalEntry, parent: fsimpl.RootIno, name: "x"})
	}
	overflows := r.stats.invalOverflows.Load()
	fake.gate.Unlock()
	q.flush()
	if overflows == 0 {
		t.Fatalf("no overflow counted")
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if !slices.Contains(fake.inodes, uint64(a.Ino)) || !slices.Contains(fake.inodes, uint64(fsimpl.RootIno)) {
		t.Errorf("flushAll did not invalidate the known inodes: %v", fake.inodes)
	}
	if !slices.Contains(fake.entries, "file") {
		t.Errorf("flushAll did not invalidate the names of the root: %v", fake.entries)
	}
	if r.stats.invalErrors.Load() != 0 {
		t.Errorf("ENOENT counted as an error")
	}
}

// The caller's groups come from /proc (parsing is tested in internal/procfs).
func TestProcGroups(t *testing.T) {
	want, _ := unix.Getgroups()
	got := procGroups(uint32(unix.Gettid()))
	if len(got) != len(want) {
		t.Fatalf("procGroups(self) = %v, getgroups = %v", got, want)
	}
	if procGroups(1<<30) != nil {
		t.Fatal("groups of a missing thread")
	}
}

func TestDevEncoding(t *testing.T) {
	for _, d := range []uint64{unix.Mkdev(1, 3), unix.Mkdev(8, 17), unix.Mkdev(259, 0x12345), unix.Mkdev(0xfff, 0xfffff)} {
		if got := hostDev(wireDev(d)); got != d {
			t.Errorf("round trip of %d:%d = %d:%d", unix.Major(d), unix.Minor(d), unix.Major(got), unix.Minor(got))
		}
	}
	// new_encode_dev(MKDEV(8, 17)) = 0x811.
	if w := wireDev(unix.Mkdev(8, 17)); w != 0x811 {
		t.Errorf("wireDev(8:17) = %#x", w)
	}
}
