package fuseserve_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// requirePassthrough fails when passthrough is off on a kernel and with
// privileges that have it: a silent fallback would make every passthrough
// test below vacuous.
func requirePassthrough(tb testing.TB, m *mounted) {
	tb.Helper()
	if m.srv.Passthrough() {
		return
	}
	var u unix.Utsname
	unix.Uname(&u)
	tb.Fatalf("passthrough is off as root on %s: %s", unix.ByteSliceToString(u.Release[:]), m.srv.Mode())
}

// eventually polls cond until it holds. The limit only guards against a
// hang; nothing asserts how long it took.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for i := 0; i < 3000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatalf("never happened: %s", what)
}

func TestPassthroughActive(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	if m.srv.Mode() != "passthrough" {
		t.Errorf("Mode() = %q", m.srv.Mode())
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	fd := mustOpen(t, m.path("f"), unix.O_CREAT|unix.O_RDWR, 0o644)
	if n, err := unix.Pwrite(fd, data, 0); n != len(data) || err != nil {
		t.Fatalf("pwrite = %d, %v", n, err)
	}
	got := make([]byte, len(data))
	if n, err := unix.Pread(fd, got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pread = %d, %v, equal %v", n, err, bytes.Equal(got, data))
	}
	st := m.srv.Stats()
	if st.Ops["WRITE"].Calls != 0 || st.Ops["READ"].Calls != 0 {
		t.Errorf("READ/WRITE reached the server with passthrough: %+v", st.Ops)
	}
	if st.BackingRegistered == 0 || st.BackingLive != 1 {
		t.Errorf("backing IDs: registered %d, live %d", st.BackingRegistered, st.BackingLive)
	}

	// Mount -> backing: fsimpl reads what the mount wrote.
	ino := m.ino(t, "f")
	f := fsOpen(t, m.fs, ino, unix.O_RDWR)
	clear(got)
	if n, e := m.fs.Read(f, got, 0); n != len(data) || e != 0 || !bytes.Equal(got, data) {
		t.Fatalf("fsimpl.Read = %d, %v, equal %v", n, e, bytes.Equal(got, data))
	}

	// Backing -> mount: a pwrite on the backing descriptor (as a supervised
	// process does natively) shows through the already open mount fd at
	// once; the grown size shows after InvalInode.
	tail := []byte("written behind the mount's back")
	if _, err := unix.Pwrite(f.Fd, tail, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := unix.Pread(fd, buf, int64(len(data))); err != nil || string(buf[:n]) != string(tail) {
		t.Fatalf("pread through mount after backing write = %q, %v", buf[:n], err)
	}
	m.srv.InvalInode(ino)
	m.srv.FlushInvalidations()
	var fst unix.Stat_t
	unix.Fstat(fd, &fst)
	if fst.Size != int64(len(data)+len(tail)) {
		t.Fatalf("size after InvalInode = %d, want %d", fst.Size, len(data)+len(tail))
	}
}

// TestPassthroughOneBackingPerInode opens one inode read-only, then
// write-only: the second open must reuse the first one's backing ID (the
// kernel refuses a different one), and writes must work although the
// registered descriptor is read-only (the kernel reopens the backing path
// with each FUSE file's own flags).
func TestPassthroughOneBackingPerInode(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	mustWriteFile(t, m.path("f"), []byte("aaaa"))
	eventually(t, "RELEASE of the writer", func() bool { return m.srv.Stats().OpenFiles == 0 })
	rfd, err := unix.Open(m.path("f"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	wfd, err := unix.Open(m.path("f"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(rfd)
		t.Fatalf("second open of the inode: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			unix.Close(wfd)
			unix.Close(rfd)
		}
	}()
	if _, err := unix.Pwrite(wfd, []byte("bb"), 1); err != nil {
		t.Fatalf("write through the second open: %v", err)
	}
	buf := make([]byte, 8)
	if n, _ := unix.Pread(rfd, buf, 0); string(buf[:n]) != "abba" {
		t.Fatalf("read through the first open = %q", buf[:n])
	}
	if st := m.srv.Stats(); st.BackingLive != 1 || st.OpenFiles != 2 {
		t.Fatalf("with two opens: %d backing IDs, %d open files", st.BackingLive, st.OpenFiles)
	}
	unix.Close(wfd)
	unix.Close(rfd)
	closed = true
	eventually(t, "backing ID unregistered after the last close", func() bool {
		st := m.srv.Stats()
		return st.BackingLive == 0 && st.OpenFiles == 0
	})
	if st := m.srv.Stats(); st.BackingUnregisterFailed != 0 {
		t.Fatalf("%d unregistrations failed", st.BackingUnregisterFailed)
	}
}

// TestPassthroughBackingFlags: the backing ID registered at the first open
// carries that open's descriptor, here O_APPEND, yet a later open without
// O_APPEND writes where it says (and O_DIRECT works): the kernel opens the
// backing file anew for every FUSE file, with that file's flags.
func TestPassthroughBackingFlags(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	mustWriteFile(t, m.path("f"), []byte("0123456789"))
	eventually(t, "RELEASE of the writer", func() bool { return m.srv.Stats().OpenFiles == 0 })
	afd := mustOpen(t, m.path("f"), unix.O_WRONLY|unix.O_APPEND, 0)
	wfd := mustOpen(t, m.path("f"), unix.O_WRONLY, 0)
	if _, err := unix.Pwrite(wfd, []byte("AB"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(afd, []byte("Z")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(m.path("f")); string(b) != "01AB456789Z" {
		t.Fatalf("contents = %q, want 01AB456789Z", b)
	}
	dfd := mustOpen(t, m.path("f"), unix.O_RDWR|unix.O_DIRECT, 0)
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	if n, err := unix.Pread(dfd, buf, 0); err != nil || string(buf[:n]) != "01AB456789Z" {
		t.Fatalf("O_DIRECT read = %q, %v", buf[:n], err)
	}
	if st := m.srv.Stats(); st.BackingLive != 1 {
		t.Fatalf("%d backing IDs for one inode", st.BackingLive)
	}
}

// TestPassthroughRegistrationFailure: one failed registration fails that
// open with EIO and is counted; the next open still gets passthrough.
func TestPassthroughRegistrationFailure(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	mustWriteFile(t, m.path("f"), []byte("x"))
	eventually(t, "handles released", func() bool { return m.srv.Stats().OpenFiles == 0 })
	fail := func(fd int) (int32, unix.Errno) { return 0, unix.EPERM }
	fuseserve.SetRegisterHook(m.srv, fail)
	if _, err := unix.Open(m.path("f"), unix.O_RDONLY, 0); err != unix.EIO {
		t.Fatalf("open with failing registration: %v, want EIO", err)
	}
	fuseserve.SetRegisterHook(m.srv, nil)
	fd := mustOpen(t, m.path("f"), unix.O_RDONLY, 0)
	buf := make([]byte, 4)
	if n, err := unix.Read(fd, buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read after recovery = %q, %v", buf[:n], err)
	}
	st := m.srv.Stats()
	if st.BackingFailed != 1 || !m.srv.Passthrough() || st.Ops["READ"].Calls != 0 {
		t.Fatalf("failed %d, passthrough %v, READs %d", st.BackingFailed, m.srv.Passthrough(), st.Ops["READ"].Calls)
	}
}

// TestStatAfterWrite: the kernel updates size itself on passthrough writes
// and drops the cached mtime, so stat through the mount is right at once.
func TestStatAfterWrite(t *testing.T) {
	for _, opts := range []fuseserve.Options{{}, {DisablePassthrough: true}} {
		m := mustMount(t, opts)
		t.Run(strings.Fields(m.srv.Mode())[0], func(t *testing.T) {
			fd := mustOpen(t, m.path("f"), unix.O_CREAT|unix.O_RDWR, 0o644)
			before := mustStat(t, m.path("f"))
			if _, err := unix.Pwrite(fd, make([]byte, 4096), 8192); err != nil {
				t.Fatal(err)
			}
			after := mustStat(t, m.path("f"))
			if after.Size != 12288 {
				t.Fatalf("size after write = %d, want 12288", after.Size)
			}
			if !tsLess(before.Mtim, after.Mtim) {
				t.Fatalf("mtime did not advance: %v -> %v", before.Mtim, after.Mtim)
			}
			afd := mustOpen(t, m.path("f"), unix.O_WRONLY|unix.O_APPEND, 0)
			unix.Write(afd, []byte("tail"))
			var st unix.Stat_t
			unix.Fstat(fd, &st)
			if st.Size != 12292 {
				t.Fatalf("size after append = %d, want 12292", st.Size)
			}
		})
	}
}

func tsLess(a, b unix.Timespec) bool { return a.Sec < b.Sec || a.Sec == b.Sec && a.Nsec < b.Nsec }

// TestMmapSharesBackingPages: a shared mapping through the mount sees a
// pwrite on the backing descriptor at once, and fsimpl sees a store into
// the mapping: with passthrough both are the backing file's pages.
func TestMmapSharesBackingPages(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	mustWriteFile(t, m.path("f"), make([]byte, 4096))
	fd := mustOpen(t, m.path("f"), unix.O_RDWR, 0)
	mem, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	f := fsOpen(t, m.fs, m.ino(t, "f"), unix.O_RDWR)
	if _, err := unix.Pwrite(f.Fd, []byte("from the backing fd"), 100); err != nil {
		t.Fatal(err)
	}
	if got := string(mem[100:119]); got != "from the backing fd" {
		t.Fatalf("mapping after backing pwrite = %q", got)
	}
	copy(mem[1000:], "stored in the mapping")
	buf := make([]byte, 21)
	if n, e := m.fs.Read(f, buf, 1000); e != 0 || string(buf[:n]) != "stored in the mapping" {
		t.Fatalf("fsimpl.Read after store = %q, %v", buf[:n], e)
	}
}

// TestCloseToOpen: without passthrough, data goes through READ/WRITE and a
// change made behind the mount shows at the next open, or at once after
// InvalContent on a descriptor that stays open.
func TestCloseToOpen(t *testing.T) {
	m := mustMount(t, fuseserve.Options{DisablePassthrough: true})
	if m.srv.Passthrough() || !strings.HasPrefix(m.srv.Mode(), "close-to-open (no passthrough: ") {
		t.Fatalf("Passthrough %v, Mode %q", m.srv.Passthrough(), m.srv.Mode())
	}
	mustWriteFile(t, m.path("f"), []byte("old contents"))
	if st := m.srv.Stats(); st.Ops["WRITE"].Calls == 0 {
		t.Fatalf("no WRITE reached the server in close-to-open mode")
	}
	fd := mustOpen(t, m.path("f"), unix.O_RDONLY, 0)
	buf := make([]byte, 64)
	unix.Pread(fd, buf, 0) // now in the kernel's page cache
	ino := m.ino(t, "f")
	f := fsOpen(t, m.fs, ino, unix.O_WRONLY)
	unix.Pwrite(f.Fd, []byte("NEW"), 0)
	m.srv.InvalContent(ino)
	m.srv.FlushInvalidations()
	if n, _ := unix.Pread(fd, buf, 0); string(buf[:n]) != "NEW contents" {
		t.Fatalf("open fd after InvalContent = %q", buf[:n])
	}
	unix.Pwrite(f.Fd, []byte("NEWER"), 0)
	fd2 := mustOpen(t, m.path("f"), unix.O_RDONLY, 0)
	if n, _ := unix.Pread(fd2, buf, 0); string(buf[:n]) != "NEWERontents" {
		t.Fatalf("new open after backing write = %q", buf[:n])
	}
}
