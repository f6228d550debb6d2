package fsimpl

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBackingKinds(t *testing.T) {
	for _, kind := range backings() {
		t.Run(kind.String(), func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: kind, SizeBytes: 8 << 20, Inodes: 100})
			if fs.Backing() != kind {
				t.Errorf("Backing() = %v", fs.Backing())
			}
			if d := fs.BackingDescription(); d == "" {
				t.Error("empty description")
			}
			s := fs.StatFs()
			want := StatFs{Blocks: 2048, Bfree: 2048, Bavail: 2048, Files: 100, Ffree: 99, Bsize: 4096, NameLen: 255, Frsize: 4096}
			if s != want {
				t.Errorf("statfs %+v, want %+v", s, want)
			}
			ino := mustFile(t, fs, Root, "f", 0o644, strings.Repeat("x", 8192))
			if s := fs.StatFs(); s.Bfree != 2046 || s.Ffree != 98 {
				t.Errorf("statfs after 8 KiB: %+v", s)
			}
			// The backing file is named by the inode number in hex,
			// mode 0600, reachable only through the directory fd.
			var st unix.Stat_t
			if err := unix.Fstatat(fs.back.dirfd, backingName(ino), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				t.Fatal(err)
			}
			if st.Mode != unix.S_IFREG|0o600 || st.Size != 8192 {
				t.Errorf("backing file mode %o size %d", st.Mode, st.Size)
			}
		})
	}
}

func TestShmBackingRemovedAtClose(t *testing.T) {
	fs, err := New(Options{Backing: BackingShm, SizeBytes: 1 << 20, Inodes: 10})
	if err != nil {
		t.Fatal(err)
	}
	dir := fs.back.path
	if !strings.HasPrefix(dir, "/dev/shm/btfuse-data-") {
		t.Errorf("backing dir %q", dir)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backing dir: %v %v", fi, err)
	}
	mustFile(t, fs, Root, "f", 0o644, "data")
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("backing dir still there: %v", err)
	}
}

func TestAutoBacking(t *testing.T) {
	fs := newTestFS(t, Options{})
	want := BackingShm
	if os.Geteuid() == 0 {
		want = BackingTmpfs // may mount (CAP_SYS_ADMIN)
	}
	if fs.Backing() != want {
		t.Logf("auto chose %v: %s", fs.Backing(), fs.BackingDescription())
		if want == BackingTmpfs && os.Getenv("BTFUSE_REQUIRE_PRIVILEGED") == "1" {
			t.Errorf("auto backing is %v as root", fs.Backing())
		}
	}
}

func TestDefaultLimits(t *testing.T) {
	fs, err := New(Options{Backing: BackingShm})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	ram := uint64(si.Totalram) * uint64(si.Unit)
	s := fs.StatFs()
	if s.Files != ram/pageSize/2 || s.Blocks != ram/2/pageSize {
		t.Errorf("defaults: %+v for %d bytes of RAM", s, ram)
	}
}
