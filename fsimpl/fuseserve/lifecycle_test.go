package fuseserve_test

import (
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// TestUnmountBusy: Unmount refuses while a file is open and works after.
func TestUnmountBusy(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	fd, err := unix.Open(m.path("f"), unix.O_CREAT|unix.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.srv.Unmount(); err == nil {
		t.Fatal("Unmount succeeded with a file open")
	}
	unix.Close(fd)
	if err := m.srv.Unmount(); err != nil {
		t.Fatalf("Unmount after close: %v", err)
	}
	if err := m.srv.Unmount(); err != nil {
		t.Fatalf("second Unmount: %v", err)
	}
}

// TestExternalUnmount: umount(2) from outside ends serving; Wait returns
// and the adapter hands everything back to fsimpl.
func TestExternalUnmount(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	mustWriteFile(t, m.path("f"), []byte("x"))
	if err := unix.Unmount(m.dir, 0); err != nil {
		t.Fatal(err)
	}
	m.srv.Wait()
	if st := m.srv.Stats(); st.KernelRefs != 0 || st.OpenFiles != 0 {
		t.Fatalf("after external unmount: %+v", st)
	}
	if err := m.srv.Unmount(); err != nil {
		t.Fatalf("Unmount after external unmount: %v", err)
	}
	// Invalidations after the mount is gone are dropped quietly.
	m.srv.InvalEntry(1, "f")
	m.srv.FlushInvalidations()
}

// TestConcurrentOpens hammers one inode with opens and closes from several
// goroutines, in every access mode: the per-inode backing ID must be shared
// and unregistered correctly (a second backing file for an inode, or an ID
// unregistered under an open, makes the kernel fail the open with EIO).
func TestConcurrentOpens(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	requirePassthrough(t, m)
	for i := range 4 {
		mustWriteFile(t, m.path(fmt.Sprint(i)), []byte("0123456789"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			modes := []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, unix.O_WRONLY | unix.O_APPEND}
			buf := make([]byte, 4)
			for i := range 300 {
				name := m.path(fmt.Sprint((g + i) % 4))
				flags := modes[(g+i)%len(modes)]
				fd, err := unix.Open(name, flags|unix.O_CLOEXEC, 0)
				if err != nil {
					errs <- fmt.Errorf("open %s %#x: %w", name, flags, err)
					return
				}
				if flags&unix.O_ACCMODE == unix.O_RDONLY {
					_, err = unix.Pread(fd, buf, 0)
				} else if flags&unix.O_APPEND == 0 {
					_, err = unix.Pwrite(fd, buf[:1], 1)
				}
				unix.Close(fd)
				if err != nil {
					errs <- fmt.Errorf("i/o on %s %#x: %w", name, flags, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "all handles released", func() bool {
		st := m.srv.Stats()
		return st.OpenFiles == 0 && st.BackingLive == 0
	})
	if st := m.srv.Stats(); st.BackingFailed != 0 || st.BackingUnregisterFailed != 0 || st.Ops["READ"].Calls+st.Ops["WRITE"].Calls != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestCopyFileRange: COPY_FILE_RANGE is left to the kernel's fallback
// (the server answers ENOSYS once, then the kernel copies through the page
// cache, i.e. through passthrough).
func TestCopyFileRange(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	mustWriteFile(t, m.path("src"), []byte("copy me please"))
	src := mustOpen(t, m.path("src"), unix.O_RDONLY, 0)
	dst := mustOpen(t, m.path("dst"), unix.O_CREAT|unix.O_WRONLY, 0o644)
	for range 2 {
		var off, doff int64 = 5, 0
		if n, err := unix.CopyFileRange(src, &off, dst, &doff, 9, 0); n != 9 || err != nil {
			t.Fatalf("copy_file_range = %d, %v", n, err)
		}
	}
	buf := make([]byte, 16)
	rfd := mustOpen(t, m.path("dst"), unix.O_RDONLY, 0)
	if n, _ := unix.Read(rfd, buf); string(buf[:n]) != "me please" {
		t.Fatalf("dst = %q", buf[:n])
	}
}
