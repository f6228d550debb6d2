package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/btfuse/btfuse/internal/testutil"
)

// TestDirListingsAcrossDoors: the kernel caches directory listings read
// through the FUSE mount (fsimpl/fuseserve/dir.go), and a change made by
// a lane of 'btfuse run' never passes through the kernel. dirlist
// (fastlane/testdata) lists directories through the mount, changes them
// (create, unlink, rename in, out, within and over, mkdir, rmdir, chmod)
// and lists them again after each change: through the stream opened
// before (rewinddir), a new stream and a forked child, a stream mid-way
// whose unread names were removed, and the atime after a chmod. Its
// transcript must match the one made in a kernel tmpfs, run plainly
// (every call through FUSE), on the seccomp lane and on the fast lane,
// where the changes must not reach FUSE. Afterwards this process, which
// is no part of the run, lists the same directories through the mount.
func TestDirListingsAcrossDoors(t *testing.T) {
	testutil.RequirePrivileged(t)
	helper := cHelper(t, "dirlist")
	ref := testutil.TmpfsDir(t)
	want, err := exec.Command(helper, ref).Output()
	if err != nil {
		t.Fatalf("dirlist natively: %v\n%s", err, want)
	}
	dir, runtime := mountDirs(t)
	startDaemon(t, runtime, dir)
	changes := []string{"CREATE", "MKNOD", "MKDIR", "UNLINK", "RMDIR", "RENAME", "SETATTR"}
	fuseChanges := func() uint64 {
		var n uint64
		for _, op := range changes {
			n += notified(t, runtime, dir, op)
		}
		return n
	}
	for _, c := range []struct {
		name string
		run  []string // 'btfuse run' arguments before the command; nil: no run
		env  []string
	}{
		{"fuse", nil, nil},
		{"seccomp", []string{"--no-fast-lane"}, nil},
		{"fast", []string{}, []string{"BTFUSE_FAST_AFTER=0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			under := filepath.Join(dir, c.name)
			if err := os.Mkdir(under, 0o755); err != nil {
				t.Fatal(err)
			}
			before := fuseChanges()
			var out string
			if c.run == nil {
				b, err := exec.Command(helper, under).Output()
				if err != nil {
					t.Fatalf("dirlist: %v\n%s", err, b)
				}
				out = string(b)
			} else {
				args := append(append([]string{"--mount", dir}, c.run...), "--", helper, under)
				code, stdout, errOut := runIn(t, runtime, c.env, args...)
				if code != 0 {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
				}
				out = stdout
				if got := fuseChanges() - before; got != 0 {
					t.Errorf("%d of the changes went through FUSE; the lane was to make them", got)
				}
			}
			if d := lineDiff(string(want), out); d != "" {
				t.Errorf("differs from the kernel without btfuse (-kernel +%s):\n%s", c.name, d)
			}
			for _, sub := range []string{"d", "o", "m"} {
				w, g := dirNames(t, filepath.Join(ref, sub)), dirNames(t, filepath.Join(under, sub))
				if !slices.Equal(w, g) {
					t.Errorf("%s listed by another process: %v, want %v", sub, g, w)
				}
			}
		})
	}
}

// dirNames lists dir, sorted.
func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
