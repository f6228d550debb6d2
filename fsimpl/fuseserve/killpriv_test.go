package fuseserve_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl/fuseserve"
)

// TestGetxattrPerWrite measures a kernel quirk: with xattrs supported, the
// kernel asks GETXATTR("security.capability") before writes
// (file_remove_privs -> security_inode_need_killpriv), on every write unless
// the inode is marked S_NOSEC, and FUSE marks inodes S_NOSEC only when the
// superblock has SB_NOSEC, which fs/fuse/inode.c:process_init_reply sets only
// for servers that negotiate FUSE_HANDLE_KILLPRIV_V2. Every attribute
// refresh clears S_NOSEC again (fuse_change_attributes_common), so the
// expected count with KILLPRIV_V2 is about one per file, not one per write.
// The test counts the GETXATTR requests the server receives during N 4 KiB
// pwrites through the mount, with and without the capability, in both data
// modes. If the "without" count drops, the kernel has changed and the
// capability may no longer be needed.
func TestGetxattrPerWrite(t *testing.T) {
	const n = 100
	count := func(t *testing.T, opts fuseserve.Options) uint64 {
		m := mustMount(t, opts)
		fd := mustOpen(t, m.path("f"), unix.O_CREAT|unix.O_RDWR, 0o644)
		buf := make([]byte, 4096)
		before := m.srv.Stats().Ops["GETXATTR"].Calls
		for i := 0; i < n; i++ {
			if _, err := unix.Pwrite(fd, buf, int64(i)*4096); err != nil {
				t.Fatal(err)
			}
		}
		return m.srv.Stats().Ops["GETXATTR"].Calls - before
	}
	for _, mode := range []struct {
		name string
		opts fuseserve.Options
	}{
		{"passthrough", fuseserve.Options{}},
		{"close-to-open", fuseserve.Options{DisablePassthrough: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			with := count(t, mode.opts)
			without := mode.opts
			fuseserve.WithoutKillPrivV2(&without)
			wo := count(t, without)
			t.Logf("GETXATTR requests during %d pwrites: %d with HANDLE_KILLPRIV_V2, %d without", n, with, wo)
			if with > 1 {
				t.Errorf("with HANDLE_KILLPRIV_V2: %d GETXATTR for %d writes, want at most 1", with, n)
			}
			if wo < n {
				t.Errorf("without HANDLE_KILLPRIV_V2: %d GETXATTR for %d writes; the kernel no longer asks per write", wo, n)
			}
		})
	}
}
