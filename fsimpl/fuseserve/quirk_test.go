package fuseserve_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
	"github.com/btfuse/btfuse/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestQuirkRefusedFallocateKillsSUID pins a kernel quirk that no FUSE server
// can hide: fs/fuse/file.c:fuse_file_fallocate() calls file_modified(),
// which drops setuid/setgid for a caller without CAP_FSETID (an empty
// SETATTR under HANDLE_KILLPRIV_V2), before it sends the FALLOCATE request.
// When the server then refuses the mode (tmpfs has no FALLOC_FL_ZERO_RANGE),
// the bits are gone anyway; on tmpfs itself shmem_fallocate() refuses first
// and they stay. If this test starts failing on the FUSE side, the kernel
// has changed the order and the random differential test may generate
// unprivileged ZERO_RANGE again (internal/posixtest/random_gen.go).
func TestQuirkRefusedFallocateKillsSUID(t *testing.T) {
	m := mustMount(t, fuseserve.Options{AllowOther: true})
	ref := testutil.TmpfsDir(t)
	for _, tc := range []struct {
		name     string
		dir      string
		wantMode uint32
	}{
		{"tmpfs keeps setuid", ref, 0o4777},
		{"fuse drops setuid", m.dir, 0o0777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tc.dir, "suid")
			mustWriteFile(t, path, []byte("data"))
			if err := unix.Chmod(path, 0o4777); err != nil {
				t.Fatal(err)
			}
			// Opened by root, used by uid 1000: the privilege test is at
			// fallocate time, and the temporary parents stay 0700.
			fd := mustOpen(t, path, unix.O_WRONLY, 0)
			var ferr error
			asUser(t, 1000, 1000, nil, func() {
				ferr = unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, 0, 4096)
			})
			if ferr != unix.EOPNOTSUPP {
				t.Fatalf("fallocate(ZERO_RANGE) as uid 1000: %v, want EOPNOTSUPP", ferr)
			}
			if st := mustStat(t, path); st.Mode&0o7777 != tc.wantMode {
				t.Errorf("mode after the refused fallocate %o, want %o", st.Mode&0o7777, tc.wantMode)
			}
		})
	}
}

// TestQuirkNoopChownKillsSUID pins a kernel quirk that no FUSE server can
// hide: chown(-1, -1) by a user who does not own a setuid file is EPERM on
// tmpfs (notify_change() turns the setuid drop of chown_common() into a
// mode change, which setattr_prepare() allows only the owner), but through
// FUSE the kernel removes that mode change before its own check
// (fuse_setattr() under HANDLE_KILLPRIV_V2) and sends an empty SETATTR, the
// same request a write by an unprivileged writer sends: the server must drop
// the bits for the write, so it drops them here too, and the call succeeds.
// The supervised door, which sees the chown itself, answers EPERM
// (supervisor's TestRunNoopChown). If the FUSE side starts failing, the
// kernel has changed, and the random differential test may make non-owners
// chown(-1, -1) again (internal/posixtest/random_gen.go).
func TestQuirkNoopChownKillsSUID(t *testing.T) {
	m := mustMount(t, fuseserve.Options{AllowOther: true})
	ref := testutil.TmpfsDir(t)
	for _, tc := range []struct {
		name     string
		dir      string
		wantErr  error
		wantMode uint32
	}{
		{"tmpfs refuses", ref, unix.EPERM, 0o4755},
		{"fuse drops setuid", m.dir, nil, 0o0755},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tc.dir, "suid")
			mustWriteFile(t, path, []byte("data"))
			if err := unix.Chown(path, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			if err := unix.Chmod(path, 0o4755); err != nil {
				t.Fatal(err)
			}
			// fchown: no path walk through the 0700 temporary parents.
			fd := mustOpen(t, path, unix.O_RDONLY, 0)
			var cerr error
			asUser(t, 1001, 1001, nil, func() { cerr = unix.Fchown(fd, -1, -1) })
			if cerr != tc.wantErr {
				t.Errorf("fchown(-1, -1) by a non-owner: %v, want %v", cerr, tc.wantErr)
			}
			if st := mustStat(t, path); st.Mode&0o7777 != tc.wantMode {
				t.Errorf("mode after it %o, want %o", st.Mode&0o7777, tc.wantMode)
			}
		})
	}
}

// TestQuirkTmpfsRepeatsAfterRemovals pins a kernel tmpfs quirk that btfuse
// does not copy: a stream read part-way, whose unread names are then all
// removed, goes on with names it has already returned on a 6.18 tmpfs
// (the stable-offset directories of fs/libfs.c, offset_readdir(), resume
// from the position's neighbour in the offset tree). POSIX leaves it open
// (readdir after a removal), fsimpl's cookies resume after the last name
// returned, and the through-the-doors transcript (fastlane/testdata/
// dirlist.c) therefore counts only removed names that come back, not
// repeats. If the tmpfs side starts failing, the kernel has changed.
func TestQuirkTmpfsRepeatsAfterRemovals(t *testing.T) {
	m := mustMount(t, fuseserve.Options{})
	ref := testutil.TmpfsDir(t)
	for _, tc := range []struct {
		name    string
		dir     string
		repeats bool
	}{
		{"tmpfs repeats", ref, true},
		{"fuse does not", m.dir, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 60 {
				mustWriteFile(t, filepath.Join(tc.dir, fmt.Sprintf("f%02d", i)), nil)
			}
			fd := mustOpen(t, tc.dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			seen := map[string]bool{}
			for _, d := range getdents(t, fd, 256) {
				seen[d.name] = true
			}
			for i := range 60 {
				if name := fmt.Sprintf("f%02d", i); !seen[name] {
					if err := unix.Unlink(filepath.Join(tc.dir, name)); err != nil {
						t.Fatal(err)
					}
				}
			}
			repeated := 0
			for {
				ds := getdents(t, fd, 256)
				if len(ds) == 0 {
					break
				}
				for _, d := range ds {
					if !seen[d.name] {
						t.Errorf("%s was removed before the stream reached it, and returned", d.name)
					}
					repeated++
				}
			}
			if (repeated > 0) != tc.repeats {
				t.Errorf("%d names returned again, want repeats %v", repeated, tc.repeats)
			}
		})
	}
}
