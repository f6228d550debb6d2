package fuseserve_test

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// TestReaddir reads a large directory in small getdents batches (READDIRPLUS
// for the first, plain READDIR after, stat in between switching back to
// READDIRPLUS) while it changes: offsets must stay valid, nothing may come
// twice, a name removed before it was reached must not come, and d_ino must
// be the inode number stat reports.
func TestReaddir(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	const n = 300
	for i := range n {
		mustWriteFile(t, m.path(fmt.Sprintf("f%03d", i)), nil)
	}
	fd := mustOpen(t, m.dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	seen := map[string]int{}
	var order []dirent
	first := getdents(t, fd, 1024)
	for _, d := range first {
		seen[d.name]++
	}
	order = append(order, first...)
	// Remove one name already read and one not yet read, add one.
	var unread string
	for i := n - 1; i >= 0; i-- {
		if name := fmt.Sprintf("f%03d", i); seen[name] == 0 {
			unread = name
			break
		}
	}
	if err := unix.Unlink(m.path(first[len(first)-1].name)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unlink(m.path(unread)); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, m.path("zz-new"), nil)
	for batch := 0; ; batch++ {
		ds := getdents(t, fd, 1024)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			seen[d.name]++
			if batch%3 == 0 && d.name != "." && d.name != ".." {
				// Looking names up makes the kernel ask READDIRPLUS next.
				if st := mustStat(t, m.path(d.name)); st.Ino != d.ino {
					t.Errorf("%s: d_ino %d, stat ino %d", d.name, d.ino, st.Ino)
				}
			}
		}
		order = append(order, ds...)
	}
	for name, c := range seen {
		if c > 1 {
			t.Errorf("%s returned %d times", name, c)
		}
	}
	if seen[unread] != 0 {
		t.Errorf("%s was removed before it was reached but still returned", unread)
	}
	for i := range n {
		if name := fmt.Sprintf("f%03d", i); name != unread && seen[name] != 1 {
			t.Errorf("%s missing", name)
		}
	}
	if seen["."] != 1 || seen[".."] != 1 {
		t.Errorf(". and .. seen %d and %d times", seen["."], seen[".."])
	}
	// Seeking back to a cookie resumes right after that entry.
	mid := order[len(order)/2]
	if _, err := unix.Seek(fd, mid.off, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if ds := getdents(t, fd, 1024); len(ds) == 0 || ds[0].name != order[len(order)/2+1].name {
		t.Errorf("after seekdir to %s's cookie: %v", mid.name, ds)
	}
}

// TestReferencesReturned: once everything is unlinked and the mount is gone,
// fsimpl holds no inode but the root: every lookup count the kernel was
// given (entry replies and READDIRPLUS entries) and every open File went
// back, whether the kernel forgot them or the adapter did at unmount.
func TestReferencesReturned(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	initial := m.fs.StatFs().Ffree
	if err := unix.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustWriteFile(t, m.path(fmt.Sprintf("d/f%d", i)), []byte("x"))
	}
	fd, err := unix.Open(m.path("d"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for len(getdents(t, fd, 4096)) > 0 {
	}
	unix.Close(fd)
	// An unlinked file still open keeps its inode until it is closed.
	held, err := unix.Open(m.path("d/f0"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := unix.Unlink(m.path(fmt.Sprintf("d/f%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Rmdir(m.path("d")); err != nil {
		t.Fatal(err)
	}
	// FORGETs travel asynchronously. The open file pins its dentry, which
	// pins the removed directory's: two inodes stay.
	eventually(t, "all but the open unlinked file and its directory freed", func() bool { return m.fs.StatFs().Ffree == initial-2 })
	unix.Close(held)
	if err := m.srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got := m.fs.StatFs().Ffree; got != initial {
		t.Errorf("after unmount: %d free inodes, want %d", got, initial)
	}
}
