package fuseserve

// Unit tests that need no mount. They live in package fuseserve and must not
// import internal/testutil (which imports this package).

import (
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/procfs"
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

// The caller's groups and capabilities come from /proc (parsing is tested
// in internal/procfs); uid 0 is read only for fullCredOf.
func TestCredOf(t *testing.T) {
	groups, _ := unix.Getgroups()
	self := uint32(unix.Gettid())
	st, ok := procfs.ReadStatus(int(self))
	if !ok {
		t.Fatal("ReadStatus(self)")
	}
	own := fsimpl.Caps(st.CapEff) & fsimpl.AllCaps
	user := func(pid uint32) *fuse.InHeader {
		return &fuse.InHeader{Caller: fuse.Caller{Owner: fuse.Owner{Uid: 1000, Gid: 1000}, Pid: pid}}
	}
	root := &fuse.InHeader{Caller: fuse.Caller{Pid: self}}
	for _, tc := range []struct {
		name   string
		c      *fsimpl.Cred
		caps   fsimpl.Caps
		groups int
	}{
		{"uid 0", credOf(root), fsimpl.AllCaps, 0},
		{"uid 0, read", fullCredOf(root), own, len(groups)},
		{"user", credOf(user(self)), own, len(groups)},
		{"user that is gone", credOf(user(1 << 30)), 0, 0},
		{"the kernel", credOf(user(0)), fsimpl.AllCaps, 0},
		{"kill flag", withoutFsetid(credOf(root)), fsimpl.AllCaps &^ fsimpl.CapFsetid, 0},
	} {
		if tc.c.Caps != tc.caps || len(tc.c.Groups) != tc.groups {
			t.Errorf("%s: caps %#x groups %v, want caps %#x and %d groups", tc.name, tc.c.Caps, tc.c.Groups, tc.caps, tc.groups)
		}
	}
	// A caller in another user namespace holds no capability that only
	// the initial namespace grants.
	cmd := exec.Command("sleep", "10")
	root0 := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: root0, GidMappings: root0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in a new user namespace: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c := credOf(user(uint32(cmd.Process.Pid)))
	if want := fsimpl.AllCaps &^ (fsimpl.CapSysAdmin | fsimpl.CapMknod); c.Caps != want || c.NS != nil {
		t.Errorf("caller in a user namespace: caps %#x ns %v, want caps %#x", c.Caps, c.NS, want)
	}
	// fullCredOf reads which ids the namespace maps.
	c = fullCredOf(user(uint32(cmd.Process.Pid)))
	want := []fsimpl.IDRange{{First: 0, Count: 1}}
	if c.Caps != fsimpl.AllCaps || c.NS == nil || !slices.Equal(c.NS.UIDs, want) || !slices.Equal(c.NS.GIDs, want) {
		t.Errorf("caller in a user namespace, read in full: caps %#x ns %+v", c.Caps, c.NS)
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
