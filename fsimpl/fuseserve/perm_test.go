package fuseserve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
)

const (
	userUID = 1000
	userGID = 1000
	// otherGID is a supplementary group of the user: the kernel knows it
	// from the thread's credentials, fsimpl only from /proc/TID/status.
	otherGID = 1001
)

// permSetup builds, as root, the tree the unprivileged caller then works on.
func permSetup(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file := func(name string, mode uint32, gid int) {
		t.Helper()
		must(os.WriteFile(filepath.Join(dir, name), []byte("data"), 0o600))
		must(unix.Chown(filepath.Join(dir, name), 0, gid))
		must(unix.Chmod(filepath.Join(dir, name), mode))
	}
	mkdir := func(name string, mode uint32) {
		t.Helper()
		must(unix.Mkdir(filepath.Join(dir, name), 0o700))
		must(unix.Chmod(filepath.Join(dir, name), mode))
	}
	must(unix.Chmod(dir, 0o755))
	mkdir("private", 0o700)
	file("private/f", 0o644, 0)
	file("ro", 0o644, 0)
	file("rw", 0o666, 0)
	file("group", 0o040, otherGID)
	file("nogroup", 0o040, 4242)
	file("suid", 0o4777, 0)
	file("sgid", 0o2777, 0)
	file("trunc", 0o6777, 0)
	file("falloc", 0o2777, 0)
	file("nowrite", 0o4777, 0)
	file("rootfd", 0o4777, 0)
	file("chown", 0o4777, userGID)
	must(unix.Chown(filepath.Join(dir, "chown"), userUID, userGID))
	file("rootwrite", 0o4777, 0)
	mkdir("sgdir", 0o2777)
	mkdir("pub", 0o777)
	mkdir("sticky", 0o1777)
	file("sticky/rootfile", 0o666, 0)
}

// permOps runs as the unprivileged user and returns what it saw, one line
// an operation.
func permOps(dir string, rootFd int) []string {
	var out []string
	p := func(name string) string { return filepath.Join(dir, name) }
	rec := func(what string, err error) { out = append(out, fmt.Sprintf("%s: %v", what, errnoOf(err))) }
	open := func(name string, flags int) error {
		fd, err := unix.Open(p(name), flags|unix.O_CLOEXEC, 0o644)
		if err == nil {
			if flags&unix.O_ACCMODE != unix.O_RDONLY {
				_, err = unix.Write(fd, []byte("w"))
			}
			unix.Close(fd)
		}
		return err
	}
	rec("open private/f", open("private/f", unix.O_RDONLY))
	rec("open ro for writing", open("ro", unix.O_WRONLY))
	rec("open ro for reading", open("ro", unix.O_RDONLY))
	rec("read via supplementary group", open("group", unix.O_RDONLY))
	rec("read via a group not held", open("nogroup", unix.O_RDONLY))
	rec("create in root-owned dir", open("new", unix.O_CREAT|unix.O_WRONLY))
	rec("create in 0777 dir", open("pub/new", unix.O_CREAT|unix.O_WRONLY))
	rec("mkdir in 0777 dir", unix.Mkdir(p("pub/d"), 0o755))
	rec("chmod root's file", unix.Chmod(p("ro"), 0o777))
	rec("chown own dir to root", unix.Chown(p("pub/d"), 0, -1))
	rec("chgrp own dir to a held group", unix.Chown(p("pub/d"), -1, otherGID))
	rec("chgrp own dir to a group not held", unix.Chown(p("pub/d"), -1, 4242))
	rec("unlink root's file in sticky dir", unix.Unlink(p("sticky/rootfile")))
	fd, err := unix.Open(p("private"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err == nil {
		unix.Close(fd)
	}
	rec("opendir private", err)
	rec("utimes explicit on root's file", unix.UtimesNanoAt(unix.AT_FDCWD, p("rw"), []unix.Timespec{{Sec: 1}, {Sec: 2}}, 0))
	rec("utimes now on writable file", unix.UtimesNanoAt(unix.AT_FDCWD, p("rw"), nil, 0))
	rec("setxattr on read-only file", unix.Setxattr(p("ro"), "user.x", []byte("v"), 0))
	rec("link into private", unix.Link(p("ro"), p("private/l")))
	rec("rename into root-owned dir", unix.Rename(p("pub/d"), p("d2")))
	rec("write suid file", open("suid", unix.O_WRONLY))
	rec("write sgid file", open("sgid", unix.O_WRONLY))
	rec("O_TRUNC suid+sgid file", open("trunc", unix.O_WRONLY|unix.O_TRUNC))
	fd, err = unix.Open(p("falloc"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE|unix.FALLOC_FL_PUNCH_HOLE, 0, 4096)
		unix.Close(fd)
	}
	rec("fallocate sgid file", err)
	fd, err = unix.Open(p("nowrite"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	rec("open suid file for writing, no write", err)
	_, err = unix.Pwrite(rootFd, []byte("w"), 0)
	rec("write through a descriptor root opened", err)
	rec("chown -1 -1 own suid file", unix.Chown(p("chown"), -1, -1))
	fd, err = unix.Open(p("sgdir/new"), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o2755)
	if err == nil {
		unix.Close(fd)
	}
	rec("create 2755 in a setgid dir", err)
	fd, err = unix.Open(p("pub/newsuid"), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o6755)
	if err == nil {
		unix.Close(fd)
	}
	rec("create 6755 with O_TRUNC", err)
	return out
}

// permResults are what root sees afterwards: the modes the caller's writes
// should have changed.
func permResults(t *testing.T, dir string) []string {
	var out []string
	for _, name := range []string{"suid", "sgid", "trunc", "falloc", "nowrite", "rootfd", "chown", "rootwrite", "sgdir/new", "pub/newsuid", "pub/d"} {
		st := mustStat(t, filepath.Join(dir, name))
		out = append(out, fmt.Sprintf("%s: mode %o owner %d:%d", name, st.Mode&0o7777, st.Uid, st.Gid))
	}
	return out
}

// TestUnprivilegedCaller runs the same operations as uid 1000 against a
// kernel tmpfs and against the mount (both data modes) and compares errnos
// and resulting modes: the caller must get EACCES/EPERM exactly where tmpfs
// gives them, and lose suid/sgid where tmpfs clears them.
func TestUnprivilegedCaller(t *testing.T) {
	run := func(t *testing.T, dir string) []string {
		permSetup(t, dir)
		// The test's temporary directories are 0700: let the user through.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		rootFd := mustOpen(t, filepath.Join(dir, "rootfd"), unix.O_WRONLY, 0)
		var got []string
		asUser(t, userUID, userGID, []int{userGID, otherGID}, func() { got = permOps(dir, rootFd) })
		// Root (CAP_FSETID) writes and keeps the bits.
		wfd := mustOpen(t, filepath.Join(dir, "rootwrite"), unix.O_WRONLY, 0)
		if _, err := unix.Write(wfd, []byte("w")); err != nil {
			t.Fatal(err)
		}
		return append(got, permResults(t, dir)...)
	}
	want := run(t, testutil.TmpfsDir(t))
	for _, mode := range []struct {
		name string
		opts fuseserve.Options
	}{
		{"passthrough", fuseserve.Options{AllowOther: true}},
		{"close-to-open", fuseserve.Options{AllowOther: true, DisablePassthrough: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			m := mustMount(t, mode.opts)
			got := run(t, m.dir)
			if !slices.Equal(got, want) {
				t.Logf("tmpfs:\n%s", strings.Join(want, "\n"))
				for i := range max(len(got), len(want)) {
					g, w := at(got, i), at(want, i)
					if g != w {
						t.Errorf("btfuse %q, tmpfs %q", g, w)
					}
				}
			}
		})
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<missing>"
}
