//go:build linux && amd64 && cgo

package libcsys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/testutil"
)

// useLibc switches posixtest to libc for the test.
func useLibc(t *testing.T) {
	posixtest.Use(Libc{})
	t.Cleanup(func() { posixtest.Use(posixtest.Unix{}) })
}

// TestLibcMatchesSyscalls: on a kernel tmpfs, every conformance case and a
// random sequence give the same transcript through libc as through bare
// syscalls, so a difference the fast lane's tests find is the lane's, not
// the backend's (a wrong errno mapping or structure layout shows here).
func TestLibcMatchesSyscalls(t *testing.T) {
	testutil.RequirePrivileged(t) // the permission cases switch users
	ref := testutil.TmpfsDir(t)
	if err := os.Chmod(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"unix", "libc"} {
		if err := os.Mkdir(filepath.Join(ref, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]posixtest.Transcript{}
	for _, c := range posixtest.Cases {
		want[c.Name] = posixtest.RunCase(c, filepath.Join(ref, "unix"))
	}
	useLibc(t)
	for _, c := range posixtest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			got := posixtest.RunCase(c, filepath.Join(ref, "libc"))
			for _, f := range got.Failures {
				t.Errorf("libc: %s", f)
			}
			if d := posixtest.Diff("syscalls", want[c.Name].Lines, "libc", got.Lines); d != "" {
				t.Errorf("libc differs from bare syscalls:\n%s", strings.TrimRight(d, "\n"))
			}
		})
	}
	t.Run("random", func(t *testing.T) {
		a, b := filepath.Join(ref, "ra"), filepath.Join(ref, "rb")
		for _, d := range []string{a, b} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// Both engines through libc would agree with each other whatever
		// libc did: the reference goes through bare syscalls.
		refEngine, err := posixtest.NewEngine(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := posixtest.NewEngine(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := (posixtest.Lockstep{Ref: unixDoor{refEngine}, Got: got}).Run(posixtest.Generate(1, 3000)); err != nil {
			t.Error(err)
		}
	})
}

// unixDoor applies a door's operations through bare syscalls while the
// package uses libc.
type unixDoor struct{ d posixtest.Door }

func (u unixDoor) Apply(op posixtest.Op) string {
	posixtest.Use(posixtest.Unix{})
	defer posixtest.Use(Libc{})
	return u.d.Apply(op)
}

func (u unixDoor) Tree() posixtest.Tree { return u.d.Tree() }
func (u unixDoor) Close()               { u.d.Close() }

// TestErrnoAndBuffers: libc's errno comes back as the kernel's errno, a
// NUL in a path is EINVAL before libc is called (as with bare syscalls),
// and an empty buffer asks for the size.
func TestErrnoAndBuffers(t *testing.T) {
	dir := t.TempDir()
	var l Libc
	var st unix.Stat_t
	if err := l.Stat(filepath.Join(dir, "missing"), &st); err != unix.ENOENT {
		t.Errorf("stat of a missing file: %v, want ENOENT", err)
	}
	if _, err := l.Open("a\x00b", unix.O_RDONLY, 0); err != unix.EINVAL {
		t.Errorf("open of a path with a NUL: %v, want EINVAL", err)
	}
	p := filepath.Join(dir, "f")
	fd, err := l.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(fd)
	if n, err := l.Write(fd, []byte("hello")); n != 5 || err != nil {
		t.Errorf("write: %d %v", n, err)
	}
	if err := l.Fstat(fd, &st); err != nil || st.Size != 5 || st.Mode != unix.S_IFREG|0o640 {
		t.Errorf("fstat: %v, size %d mode %o", err, st.Size, st.Mode)
	}
	var stx unix.Statx_t
	if err := l.Statx(p, 0, unix.STATX_BASIC_STATS, &stx); err != nil || stx.Size != 5 || stx.Ino != st.Ino {
		t.Errorf("statx: %v, size %d ino %d (stat's %d)", err, stx.Size, stx.Ino, st.Ino)
	}
	if err := l.Setxattr(p, "user.k", []byte("value"), 0); err != nil {
		t.Skipf("setxattr on %s: %v", dir, err) // a filesystem without user xattrs
	}
	if n, err := l.Getxattr(p, "user.k", nil); n != 5 || err != nil {
		t.Errorf("getxattr size query: %d %v, want 5", n, err)
	}
	if _, err := l.Getxattr(p, "user.k", make([]byte, 2)); err != unix.ERANGE {
		t.Errorf("getxattr into 2 bytes: %v, want ERANGE", err)
	}
}
