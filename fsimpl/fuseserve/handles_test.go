package fuseserve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

// handleNames are the paths TestFileHandles makes handles of; "gone" is
// removed before any handle is opened.
var handleNames = []string{"f", "d", "d/e", "d/e/g", "gone"}

// TestFileHandles: a handle from name_to_handle_at opens again with
// open_by_handle_at while its file exists, also after the kernel has
// forgotten the inode (FORGET), and a removed file's handle is ESTALE: as
// on tmpfs. The kernel then rebuilds the inode with a LOOKUP of "." on the
// handle's node ID and reconnects a directory with LOOKUPs of ".."
// (fs/fuse/inode.c:fuse_get_dentry, fuse_get_parent), which it sends only
// when the INIT reply set FUSE_EXPORT_SUPPORT.
func TestFileHandles(t *testing.T) {
	want := handleTranscript(t, testutil.TmpfsDir(t), nil)
	b := testutil.StartBtfuse(t)
	got := handleTranscript(t, b.Dir, b)
	if !slices.Equal(got, want) {
		t.Errorf("btfuse and tmpfs differ:\nbtfuse:\n  %s\ntmpfs:\n  %s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// handleTranscript makes the tree, takes handles of handleNames, removes
// "gone", and reports what opening each handle gives, first with the
// inodes in the kernel's cache and then after the kernel has dropped
// them. b is the btfuse mount at dir, or nil for the reference.
func handleTranscript(t *testing.T, dir string, b *testutil.Btfuse) []string {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.MkdirAll(p("d/e"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, p("f"), []byte("file f\n"))
	mustWriteFile(t, p("d/e/g"), []byte("file g\n"))
	mustWriteFile(t, p("gone"), []byte("removed\n"))
	handles := map[string]unix.FileHandle{}
	inos := map[string]uint64{}
	var out []string
	for _, name := range handleNames {
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, p(name), 0)
		if err != nil {
			out = append(out, fmt.Sprintf("name_to_handle_at %s: %v", name, errnoOf(err)))
			continue
		}
		handles[name] = h
		inos[name] = mustStat(t, p(name)).Ino
	}
	if err := os.Remove(p("gone")); err != nil {
		t.Fatal(err)
	}
	if b != nil {
		// The removed file's FORGET travels on its own: wait until
		// fsimpl has freed it.
		waitFor(t, "the removed file to be freed", func() bool {
			_, e := b.FS.GetAttr(fsimpl.Ino(inos["gone"]))
			return e == unix.ESTALE
		})
	}
	mountFd := mustOpen(t, dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	open := func(phase string) {
		for _, name := range handleNames {
			if h, ok := handles[name]; ok {
				out = append(out, phase+" "+name+": "+openHandle(t, mountFd, h, dir, inos[name]))
			}
		}
	}
	open("cached")
	forgetAll(t, b, inos)
	open("forgotten")
	return out
}

// openHandle opens h and describes what it got: the errno, or the kind of
// file, whether it is the inode the handle was made of, and its contents
// (a directory's entries and its path under dir, which shows that it was
// reconnected to the tree).
func openHandle(t *testing.T, mountFd int, h unix.FileHandle, dir string, ino uint64) string {
	t.Helper()
	fd, err := unix.OpenByHandleAt(mountFd, h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return errnoOf(err).Error()
	}
	f := os.NewFile(uintptr(fd), "handle")
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	same := fmt.Sprintf("same inode %v", st.Ino == ino)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		names, err := f.Readdirnames(-1)
		if err != nil {
			return same + ", readdir: " + errnoOf(err).Error()
		}
		slices.Sort(names)
		at, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		return fmt.Sprintf("dir, %s, at %q, entries %v", same, strings.TrimPrefix(at, dir), names)
	}
	data := make([]byte, 64)
	n, err := f.Read(data)
	if err != nil {
		return same + ", read: " + errnoOf(err).Error()
	}
	return fmt.Sprintf("file, %s, %q", same, data[:n])
}

// forgetAll makes the kernel drop its unused dentries and inodes (the
// dentry and inode caches of every filesystem) and, on btfuse, waits until
// it has sent FORGET for each of inos.
func forgetAll(t *testing.T, b *testutil.Btfuse, inos map[string]uint64) {
	t.Helper()
	dropCaches := func() {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			t.Fatalf("drop caches: %v", err)
		}
	}
	dropCaches()
	if b == nil {
		return
	}
	waitFor(t, "the kernel to forget the inodes", func() bool {
		for _, ino := range inos {
			if fuseserve.KernelRefsOf(b.Server, ino) != 0 {
				dropCaches()
				return false
			}
		}
		return true
	})
}

// waitFor polls cond until it holds, failing t after 10 s (a hang guard).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFileHandleOtherFilesystem: a handle made on one filesystem does not
// open the file that has the same inode number on another (a handle kept
// across a daemon restart): ESTALE, as between two tmpfs mounts, where
// each inode has a random generation.
func TestFileHandleOtherFilesystem(t *testing.T) {
	try := func(a, b string) string {
		for _, dir := range []string{a, b} {
			mustWriteFile(t, filepath.Join(dir, "f"), []byte(dir))
		}
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, filepath.Join(a, "f"), 0)
		if err != nil {
			t.Fatalf("name_to_handle_at: %v", err)
		}
		if sa, sb := mustStat(t, filepath.Join(a, "f")), mustStat(t, filepath.Join(b, "f")); sa.Ino != sb.Ino {
			t.Fatalf("the two files have inode numbers %d and %d: the test needs them equal", sa.Ino, sb.Ino)
		}
		return openHandle(t, mustOpen(t, b, unix.O_RDONLY|unix.O_DIRECTORY, 0), h, b, 0)
	}
	want := try(testutil.TmpfsDir(t), testutil.TmpfsDir(t))
	if got := try(testutil.MountBtfuse(t), testutil.MountBtfuse(t)); got != want {
		t.Errorf("handle of another btfuse opened: %s; between two tmpfs: %s", got, want)
	}
}
