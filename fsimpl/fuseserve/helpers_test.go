package fuseserve_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// mounted is a filesystem served at dir for one test.
type mounted struct {
	fs  *fsimpl.FS
	srv *fuseserve.Server
	dir string
}

// mustMount creates a filesystem and mounts it under a temporary directory;
// both go away when the test ends, pass or fail.
func mustMount(tb testing.TB, opts fuseserve.Options) *mounted {
	tb.Helper()
	testutil.RequirePrivileged(tb)
	fs, err := fsimpl.New(fsimpl.Options{})
	if err != nil {
		tb.Fatalf("fsimpl.New: %v", err)
	}
	dir := tb.TempDir() // removed after the cleanup below has unmounted it
	srv, err := fuseserve.Mount(dir, fs, opts)
	if err != nil {
		fs.Close()
		tb.Fatalf("Mount: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			tb.Errorf("Unmount: %v; detaching", err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
		stopped := make(chan struct{})
		go func() { srv.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			tb.Errorf("serving did not stop after unmount")
			return
		}
		if st := srv.Stats(); st.OpenFiles != 0 || st.BackingLive != 0 || st.KernelRefs != 0 {
			tb.Errorf("after unmount: %d open files, %d backing IDs, %d kernel refs", st.OpenFiles, st.BackingLive, st.KernelRefs)
		}
		if err := fs.Close(); err != nil {
			tb.Errorf("fsimpl Close: %v", err)
		}
	})
	return &mounted{fs: fs, srv: srv, dir: dir}
}

func (m *mounted) path(name string) string { return filepath.Join(m.dir, name) }

// ino returns the inode number of a path through the mount.
func (m *mounted) ino(tb testing.TB, name string) fsimpl.Ino {
	tb.Helper()
	return fsimpl.Ino(mustStat(tb, m.path(name)).Ino)
}

func mustStat(tb testing.TB, path string) unix.Stat_t {
	tb.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		tb.Fatalf("lstat %s: %v", path, err)
	}
	return st
}

func mustOpen(tb testing.TB, path string, flags int, mode uint32) int {
	tb.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, mode)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return fd
}

func mustWriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
}

// errnoOf returns the errno in err, 0 for nil.
func errnoOf(err error) unix.Errno { return fsimpl.ErrnoOf(err) }

// fsOpen opens ino through fsimpl directly, as the other door does.
func fsOpen(tb testing.TB, fs *fsimpl.FS, ino fsimpl.Ino, flags int) *fsimpl.File {
	tb.Helper()
	f, e := fs.Open(fsimpl.Root, ino, flags)
	if e != 0 {
		tb.Fatalf("fsimpl.Open %d: %v", ino, e)
	}
	tb.Cleanup(func() { fs.Release(f) })
	return f
}

// asUser runs fn on a fresh OS thread whose fsuid, fsgid and groups are
// uid, gid and groups; the thread dies with the goroutine, so no other code
// ever runs with those credentials. A non-zero fsuid also drops the
// thread's filesystem capabilities (CAP_DAC_OVERRIDE and friends).
func asUser(tb testing.TB, uid, gid uint32, groups []int, fn func()) {
	tb.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setgroups(groups); err != nil {
			done <- err
			return
		}
		unix.Setfsgid(int(gid))
		unix.Setfsuid(int(uid))
		if got, _ := unix.SetfsuidRetUid(-1); got != int(uid) {
			done <- errors.New("setfsuid did not take")
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		tb.Fatalf("switching to uid %d: %v", uid, err)
	}
}

// dirent is one getdents64 record.
type dirent struct {
	ino  uint64
	off  int64
	name string
}

// getdents reads one batch of entries from fd with a buffer of size bytes.
func getdents(tb testing.TB, fd, size int) []dirent {
	tb.Helper()
	buf := make([]byte, size)
	n, err := unix.Getdents(fd, buf)
	if err != nil {
		tb.Fatalf("getdents: %v", err)
	}
	var out []dirent
	for b := buf[:n]; len(b) >= 19; {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, dirent{
			ino:  binary.NativeEndian.Uint64(b[0:8]),
			off:  int64(binary.NativeEndian.Uint64(b[8:16])),
			name: string(name),
		})
		b = b[reclen:]
	}
	return out
}
