package fsimpl

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestAccessMatrix(t *testing.T) {
	// The file is owned by alice:1000. bob is in group 1000, carol is not.
	tests := []struct {
		name string
		mode uint32
		dir  bool
		c    *Cred
		mask uint32
		want unix.Errno
	}{
		{"owner read", 0o400, false, alice, unix.R_OK, 0},
		{"owner write denied", 0o400, false, alice, unix.W_OK, unix.EACCES},
		{"owner class wins over group", 0o070, false, alice, unix.R_OK, unix.EACCES},
		{"group via supplementary", 0o040, false, bob, unix.R_OK, 0},
		{"group class wins over other", 0o007, false, bob, unix.R_OK, unix.EACCES},
		{"other", 0o004, false, carol, unix.R_OK, 0},
		{"other write denied", 0o004, false, carol, unix.W_OK, unix.EACCES},
		{"rwx all", 0o777, false, carol, unix.R_OK | unix.W_OK | unix.X_OK, 0},
		{"fsgid counts", 0o040, false, &Cred{UID: 5, GID: 1000}, unix.R_OK, 0},
		{"root reads 000", 0o000, false, Root, unix.R_OK | unix.W_OK, 0},
		{"root exec without x", 0o666, false, Root, unix.X_OK, unix.EACCES},
		{"root exec with any x", 0o001, false, Root, unix.X_OK, 0},
		{"root searches 000 dir", 0o000, true, Root, unix.X_OK | unix.R_OK | unix.W_OK, 0},
		{"F_OK", 0o000, false, carol, unix.F_OK, 0},
		{"bad mask", 0o777, false, carol, 8, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			var ino Ino
			if tc.dir {
				ino = mustMkdir(t, fs, Root, "x", 0o755)
			} else {
				ino = mustFile(t, fs, Root, "x", 0o644, "")
			}
			mustChown(t, fs, "x", 1000, 1000)
			mustChmod(t, fs, "x", tc.mode)
			if got := fs.Access(tc.c, ino, tc.mask); got != tc.want {
				t.Errorf("got %s, want %s", errStr(got), errStr(tc.want))
			}
		})
	}
}

func TestSetgidDirectory(t *testing.T) {
	tests := []struct {
		name       string
		c          *Cred
		mkdir      bool
		mode       uint32
		wantGID    uint32
		wantSetgid bool
	}{
		{"file gets dir group", alice, false, 0o644, 2000, false},
		{"subdir gets group and setgid", alice, true, 0o755, 2000, true},
		{"setgid file by non-member dropped", alice, false, 0o2755, 2000, false},
		{"setgid file by member kept", &Cred{UID: 1000, GID: 1000, Groups: []uint32{2000}}, false, 0o2755, 2000, true},
		{"setgid file by root kept", Root, false, 0o2755, 2000, true},
		{"setgid without group exec kept", alice, false, 0o2745, 2000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			d := mustMkdir(t, fs, Root, "sg", 0o777)
			mustChown(t, fs, "sg", 0, 2000)
			mustChmod(t, fs, "sg", 0o2777)
			var a Attr
			var e unix.Errno
			if tc.mkdir {
				a, e = fs.Mkdir(tc.c, d, "n", tc.mode)
			} else {
				a, e = fs.Mknod(tc.c, d, "n", unix.S_IFREG|tc.mode, 0)
			}
			if e != 0 {
				t.Fatal(e)
			}
			if a.GID != tc.wantGID || (a.Mode&unix.S_ISGID != 0) != tc.wantSetgid || a.UID != tc.c.UID {
				t.Errorf("got uid %d gid %d mode %o", a.UID, a.GID, a.Mode)
			}
		})
	}
}

func TestNewInodeOwnerAndTimes(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	home := mustMkdir(t, fs, Root, "home", 0o777)
	before := mustAttr(t, fs, home)
	a, e := fs.Mknod(alice, home, "p", unix.S_IFIFO|0o640, 0)
	if e != 0 {
		t.Fatal(e)
	}
	if a.UID != 1000 || a.GID != 1000 || a.Mode != unix.S_IFIFO|0o640 {
		t.Errorf("fifo attr %+v", a)
	}
	if a.Atime != a.Mtime || a.Mtime != a.Ctime {
		t.Errorf("new inode times differ: %+v", a)
	}
	after := mustAttr(t, fs, home)
	if !tsAfter(after.Mtime, before.Mtime) && after.Mtime != before.Mtime || after.Mtime != after.Ctime {
		t.Errorf("parent times: before %+v after %+v", before, after)
	}
	if tsAfter(a.Ctime, after.Ctime) {
		t.Errorf("parent ctime %v older than child's %v", after.Ctime, a.Ctime)
	}
}

// TestProtectedSysctlsLive: the fs.protected_* sysctls are read when a
// check depends on them, so a change after New applies at once.
func TestProtectedSysctlsLive(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	vals := map[string]int{"protected_hardlinks": 1, "protected_regular": 1, "protected_fifos": 1}
	fs.sysctl = func(name string, def int) int { return vals[name] }
	st := mustMkdir(t, fs, Root, "st", 0o777)
	if _, e := fs.SetAttr(Root, st, &SetAttrIn{Valid: SetMode, Mode: 0o1777}, nil); e != 0 {
		t.Fatal(e)
	}
	mustFile(t, fs, alice, "st/f", 0o644, "x")
	if _, e := fs.Mknod(alice, st, "p", unix.S_IFIFO|0o666, 0); e != 0 {
		t.Fatal(e)
	}
	at := func(p string) *At { return &At{Cred: bob, Dir: RootIno, Path: p} }
	open := func(p string, flags int) unix.Errno {
		f, e := fs.OpenAt(at(p), flags, 0o644, false)
		if e == 0 {
			fs.Release(f)
		}
		return e
	}
	link := func(name string) unix.Errno {
		_, e := fs.LinkAt(at("st/f"), at("st/"+name))
		return e
	}
	steps := []struct {
		name string
		set  map[string]int
		got  func() unix.Errno
		want unix.Errno
	}{
		{"link, hardlinks=1", nil, func() unix.Errno { return link("l1") }, unix.EPERM},
		{"link, hardlinks=0", map[string]int{"protected_hardlinks": 0}, func() unix.Errno { return link("l2") }, 0},
		{"O_CREAT of alice's file, regular=1", nil, func() unix.Errno { return open("st/f", unix.O_CREAT|unix.O_RDONLY) }, unix.EACCES},
		{"O_CREAT of alice's file, regular=0", map[string]int{"protected_regular": 0}, func() unix.Errno { return open("st/f", unix.O_CREAT|unix.O_RDONLY) }, 0},
		{"O_CREAT of alice's fifo, fifos=1", nil, func() unix.Errno { return open("st/p", unix.O_CREAT|unix.O_RDONLY) }, unix.EACCES},
		{"O_CREAT of alice's fifo, fifos=0", map[string]int{"protected_fifos": 0}, func() unix.Errno { return open("st/p", unix.O_CREAT|unix.O_RDONLY) }, StepAside},
	}
	for _, s := range steps {
		for k, v := range s.set {
			vals[k] = v
		}
		if e := s.got(); e != s.want {
			t.Errorf("%s: %s, want %s", s.name, errStr(e), errStr(s.want))
		}
	}
}
