package fsimpl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// requirePrivileged is testutil.RequirePrivileged, installed by
// hook_test.go: package testutil imports fsimpl, so this package's
// internal tests cannot import it directly.
var requirePrivileged func(testing.TB)

// tmpfsDir is testutil.TmpfsDir, installed the same way.
var tmpfsDir func(testing.TB) string

// Test identities: alice and bob are ordinary users; bob is also in
// alice's group; carol is in no one's group.
var (
	alice = &Cred{UID: 1000, GID: 1000}
	bob   = &Cred{UID: 1001, GID: 1001, Groups: []uint32{1000}}
	carol = &Cred{UID: 1002, GID: 1002}
)

// newTestFS returns an empty filesystem on the given backing, closed when
// the test ends. BackingTmpfs needs privileges.
func newTestFS(tb testing.TB, opts Options) *FS {
	tb.Helper()
	if opts.Backing == BackingTmpfs {
		requirePrivileged(tb)
	}
	if opts.SizeBytes == 0 {
		opts.SizeBytes = 64 << 20
	}
	if opts.Inodes == 0 {
		opts.Inodes = 1 << 16
	}
	fs, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := fs.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return fs
}

// backings lists the backings to run a test on; subtests on BackingTmpfs
// skip (or fail under BTFUSE_REQUIRE_PRIVILEGED=1) without privileges.
func backings() []BackingKind { return []BackingKind{BackingShm, BackingTmpfs} }

// walk resolves a slash-separated path from the root as c, with fsimpl's
// own walk (a symlink in the last component is not followed).
func walk(tb testing.TB, fs *FS, c *Cred, path string) (Ino, unix.Errno) {
	tb.Helper()
	a, e := fs.StatAt(&At{Cred: c, Dir: RootIno, Path: path})
	return a.Ino, e
}

// mustWalk is walk as root, failing the test on error.
func mustWalk(tb testing.TB, fs *FS, path string) Ino {
	tb.Helper()
	ino, e := walk(tb, fs, Root, path)
	if e != 0 {
		tb.Fatalf("walk %q: %v", path, e)
	}
	return ino
}

// split returns the parent path and last component of path.
func split(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// mustMkdir creates directory path with mode as c (after a root walk to
// its parent) and gives back the reference.
func mustMkdir(tb testing.TB, fs *FS, c *Cred, path string, mode uint32) Ino {
	tb.Helper()
	dir, name := split(path)
	a, e := fs.Mkdir(c, mustWalk(tb, fs, dir), name, mode)
	if e != 0 {
		tb.Fatalf("mkdir %q: %v", path, e)
	}
	fs.Forget(a.Ino, 1)
	return a.Ino
}

// mustFile creates regular file path with mode and contents as c.
func mustFile(tb testing.TB, fs *FS, c *Cred, path string, mode uint32, data string) Ino {
	tb.Helper()
	dir, name := split(path)
	a, f, e := fs.Create(c, mustWalk(tb, fs, dir), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, mode)
	if e != 0 {
		tb.Fatalf("create %q: %v", path, e)
	}
	if data != "" {
		if n, e := fs.Write(f, []byte(data), 0, nil); e != 0 || n != len(data) {
			tb.Fatalf("write %q: %d, %v", path, n, e)
		}
	}
	fs.Release(f)
	fs.Forget(a.Ino, 1)
	return a.Ino
}

// mustChown sets owner and group of path as root.
func mustChown(tb testing.TB, fs *FS, path string, uid, gid uint32) {
	tb.Helper()
	if _, e := fs.SetAttr(Root, mustWalk(tb, fs, path), &SetAttrIn{Valid: SetUID | SetGID, UID: uid, GID: gid}, nil); e != 0 {
		tb.Fatalf("chown %q: %v", path, e)
	}
}

// mustChmod sets the permission bits of path as root.
func mustChmod(tb testing.TB, fs *FS, path string, mode uint32) {
	tb.Helper()
	if _, e := fs.SetAttr(Root, mustWalk(tb, fs, path), &SetAttrIn{Valid: SetMode, Mode: mode}, nil); e != 0 {
		tb.Fatalf("chmod %q: %v", path, e)
	}
}

func mustAttr(tb testing.TB, fs *FS, ino Ino) Attr {
	tb.Helper()
	a, e := fs.GetAttr(ino)
	if e != 0 {
		tb.Fatalf("getattr %d: %v", ino, e)
	}
	return a
}

// names lists directory ino (without "." and "..").
func names(tb testing.TB, fs *FS, ino Ino) []string {
	tb.Helper()
	var out []string
	if e := fs.ReadDir(ino, 0, func(d Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			out = append(out, d.Name)
		}
		return true
	}); e != 0 {
		tb.Fatalf("readdir %d: %v", ino, e)
	}
	return out
}

// backingExists reports whether ino still has a backing file.
func backingExists(fs *FS, ino Ino) bool {
	var st unix.Stat_t
	return fs.back.stat(ino, &st) == 0
}

func errStr(e unix.Errno) string {
	if e == 0 {
		return "OK"
	}
	return unix.ErrnoName(e)
}
